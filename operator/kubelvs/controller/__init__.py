"""The kopf operator: admits VirtualServers and RealServers and writes their status.

``judging`` (who is accepted), ``conditions`` (what the status says), ``notices`` (which Events a change
deserves) and ``reconciling`` (one level-triggered pass) are plain code; only ``handlers``, ``writing``
and ``running`` know kopf or the Kubernetes client.
"""
