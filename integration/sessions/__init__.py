"""The visio session domain: sessions, invitations, links, the event log; no HTTP."""
