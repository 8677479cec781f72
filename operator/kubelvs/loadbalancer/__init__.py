"""``type: LoadBalancer`` Services on LVS directors: which Services are served, the addresses they get from
VIPPools, and the VirtualServers made for them. Pure: raw objects in, decisions out; the controller writes."""
