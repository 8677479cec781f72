"""All kernel I/O of kube-lvs: one small gateway per facility, each a Protocol with one implementation.

Nothing outside this package imports pyroute2, reads /proc/sys or runs nft.
"""
