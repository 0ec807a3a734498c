"""Where we plug into Rasa: the input channels (channels/), the action server and the
threads its actions run in, the guarded action endpoint (action_faults.py), Rasa's own
speed-ups (speedups.py), the lock store, the endpoints Rasa reads, and training.
"""
