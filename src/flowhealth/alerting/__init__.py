"""Alert rules over signals: state machine, notification payloads, evidence."""
