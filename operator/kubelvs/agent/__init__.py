"""The node agent: plans this node's state from the objects and reconciles the kernel towards it.

``reconciler`` (diff and apply), ``draining`` (graceful removal), ``ownership`` (what is ours),
``facts`` (the node as the planner sees it), ``standalone`` (the agent driven by manifest files).
"""
