"""catalog's benchmark harness: latency, memory and accuracy on this machine.

Imported only lazily from the `catalog bench` commands, never on the start-up path.
"""
