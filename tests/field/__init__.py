"""The emulated-network lab: the patient's phone and the service in two network namespaces
joined by a shaped link (delay, jitter, loss, rate, blocked protocols), and the scenarios run
through it."""
