#!/bin/sh
# Edits and deletions, run by capture_ipvsadm.sh on a real kernel (ipvsadm-edits-Sn.txt is what it left):
# kubelvs import must replay them to the same table.
VIP=192.0.2.200
ipvsadm -C
ipvsadm -A -t $VIP:80 -s rr -p 100 -M 255.255.255.0
ipvsadm -E -t $VIP:80 -s sh
ipvsadm -a -t $VIP:80 -r 198.51.100.1:8080 -g -w 5 -x 10 -y 5
ipvsadm -e -t $VIP:80 -r 198.51.100.1:80 -w 2
ipvsadm -a -t $VIP:80 -r 198.51.100.2 -m -w 3
ipvsadm -e -t $VIP:80 -r 198.51.100.2:80 -i
ipvsadm -A -u $VIP:53 -s wrr -M 255.255.0.0
ipvsadm -a -u $VIP:53 -r 198.51.100.3:5353 -m
ipvsadm -A -t $VIP:443 -p
ipvsadm -a -t $VIP:443 -r 198.51.100.4:443
ipvsadm -D -t $VIP:443
ipvsadm -A -t $VIP:8443 -s lc
ipvsadm -a -t $VIP:8443 -r 198.51.100.5:8443
ipvsadm -a -t $VIP:8443 -r 198.51.100.6:8443
ipvsadm -d -t $VIP:8443 -r 198.51.100.5:8443
ipvsadm -A -t $VIP:0 -s nq -p
ipvsadm -a -t $VIP:0 -r 198.51.100.7
