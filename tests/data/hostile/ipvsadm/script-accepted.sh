#!/bin/sh
set -e
VIP=192.0.2.2
# clear first
ipvsadm -C
ipvsadm -A -t $VIP:80 -s wlc
ipvsadm -a -t ${VIP}:80 -r 10.0.0.1 -g
/sbin/ipvsadm -a -t $VIP:80 -r 10.0.0.2 -g
sudo ipvsadm -a -t $VIP:80 -r 10.0.0.3 -g
