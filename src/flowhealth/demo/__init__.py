"""The demo: a small commerce stack simulator feeding the reference deployment."""
