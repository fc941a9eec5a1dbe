"""Turning a raw change event into a clean one: field rules driven by the schema (``fields``), checks that
span fields of one dataset (``datasets``), what the event is about (``classify``), and the whole event
(``event``). Everything here is pure: no broker, no Redis, no clock except the one passed in."""
