"""Framework adapters for tblog (installed as ``tblog.adapters``).

Each adapter imports its framework only when it is imported itself.
"""
