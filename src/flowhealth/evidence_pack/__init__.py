"""The evidence pack of a flow: the document a go-live review signs off."""
