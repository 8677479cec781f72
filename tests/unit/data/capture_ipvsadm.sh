#!/bin/bash
# Re-make the ipvsadm fixtures of tests/unit/: run INSIDE a virtme-ng VM (the host kernel has no IPVS).
#
#   .venv/bin/vng --run /boot/vmlinuz-$(ls /lib/modules | sort -V | tail -1) --disable-kvm --force-9p \
#       --memory 1G --cpus 2 --rwdir /tmp/capture --exec "bash tests/unit/data/capture_ipvsadm.sh /tmp/capture"
#   cp /tmp/capture/ipvsadm-* tests/unit/data/
#
# It programs a rich table (TCP/UDP/SCTP, fwmark v4 and v6, IPv6 VIPs, every forwarding method,
# persistence with netmasks, scheduler flags, thresholds, one-packet scheduling) in an order unlike
# ipvsadm's sorted listing, and saves what ipvsadm prints. Addresses are TEST-NET/documentation ranges:
# no packet is sent, ipvsadm only programs the kernel table of the VM.
set -euo pipefail
out=${1:?usage: capture_ipvsadm.sh OUTDIR}
mkdir -p "$out"
for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh ip_vs_sed \
         ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_pe_sip ipip; do
    modprobe "$m" || echo "modprobe $m failed" >&2
done
ipvsadm -C
# Rules every kube-lvs field can express: import -> export must give these lines back.
ipvsadm -A -u 192.0.2.53:53 -s rr -o
ipvsadm -a -u 192.0.2.53:53 -r 198.51.100.1:53 -m -w 2
ipvsadm -a -u 192.0.2.53:53 -r 198.51.100.2:5353 -m -w 1
ipvsadm -A -t 192.0.2.100:80 -s wrr
ipvsadm -a -t 192.0.2.100:80 -r 198.51.100.11:80 -g -w 3
ipvsadm -a -t 192.0.2.100:80 -r 198.51.100.12:80 -g -w 0
ipvsadm -a -t 192.0.2.100:80 -r 198.51.100.13:80 -i -w 1 -x 1000 -y 800
ipvsadm -A -t 192.0.2.100:443 -s sh -b sh-fallback,sh-port -p 600 -M 255.255.255.0
ipvsadm -a -t 192.0.2.100:443 -r 198.51.100.11:443 -g -w 1
ipvsadm -A -t 192.0.2.7:0 -s lc -p
ipvsadm -a -t 192.0.2.7:0 -r 198.51.100.21:0 -g -w 1
ipvsadm -A --sctp-service 192.0.2.9:3868 -s mh -b mh-port
ipvsadm -a --sctp-service 192.0.2.9:3868 -r 198.51.100.31:3868 -m -w 5 -x 10
ipvsadm -A -t 192.0.2.100:8080
ipvsadm -a -t 192.0.2.100:8080 -r 198.51.100.41:80 -m -w 1
ipvsadm -A -t [2001:db8::100]:80 -s sed -p 120 -M 64
ipvsadm -a -t [2001:db8::100]:80 -r [2001:db8:1::11]:80 -g -w 1
ipvsadm -a -t [2001:db8::100]:80 -r [2001:db8:1::12]:80 -g -w 2 -y 5 -x 10
ipvsadm -A -u [2001:db8::53]:53 -s nq
ipvsadm -a -u [2001:db8::53]:53 -r [2001:db8:1::53]:5353 -m -w 1
ipvsadm -A -f 7 -s fo -p 60
ipvsadm -a -f 7 -r 198.51.100.11:0 -g -w 1
ipvsadm -a -f 7 -r 198.51.100.12:0 -g -w 1
ipvsadm -A -f 8 -6 -s ovf
ipvsadm -a -f 8 -6 -r [2001:db8:1::21]:0 -g -w 4
ipvsadm -A -f 3 -s dh
ipvsadm -a -f 3 -r 198.51.100.51:0 -i -w 1
ipvsadm -A -t 192.0.2.100:25 -s lblc
ipvsadm -a -t 192.0.2.100:25 -r 198.51.100.61:25 -g -w 1
ipvsadm -A -t 192.0.2.100:110 -s lblcr
ipvsadm -a -t 192.0.2.100:110 -r 2001:db8:1::61 -i -w 1
ipvsadm -A -u 192.0.2.100:514 -s wlc -p 30 -o
ipvsadm -a -u 192.0.2.100:514 -r 198.51.100.71:514 -m -w 1
ipvsadm -A -u 192.0.2.54:53 -s sh -b sh-port -o -p 100 -M 255.255.0.0
ipvsadm -a -u 192.0.2.54:53 -r 198.51.100.91:53 -m -w 7
ipvsadm -A -t [2001:db8::101]:443 -s rr -p 300 -M 128
ipvsadm -a -t [2001:db8::101]:443 -r [2001:db8:1::91]:443 -g -w 65535
ipvsadm -S -n > "$out/ipvsadm-Sn.txt"
ipvsadm -S > "$out/ipvsadm-S.txt"
ipvsadm -L -n > "$out/ipvsadm-Ln.txt"
ipvsadm -L -n --stats > "$out/ipvsadm-Ln-stats.txt"
ipvsadm -L -n --rate > "$out/ipvsadm-Ln-rate.txt"
ipvsadm -L -n --thresholds > "$out/ipvsadm-Ln-thresholds.txt"
# What kube-lvs cannot express (tunnel types, persistence engines): import must warn about each.
ipvsadm -C
ipvsadm -A -u 192.0.2.60:5060 -s rr -p 60 --pe sip
ipvsadm -a -u 192.0.2.60:5060 -r 198.51.100.81:5060 -m -w 1
ipvsadm -A -t 192.0.2.61:80 -s rr
ipvsadm -a -t 192.0.2.61:80 -r 198.51.100.82:80 -i --tun-type gue --tun-port 6080 --tun-nocsum -w 1
ipvsadm -a -t 192.0.2.61:80 -r 198.51.100.83:80 -i --tun-type gre --tun-csum -w 1
ipvsadm -a -t 192.0.2.61:80 -r 198.51.100.84:80 -i --tun-type ipip -w 1
ipvsadm -S -n > "$out/ipvsadm-Sn-unsupported.txt"
# Edits and deletions: import replays the script to what the kernel kept.
sh "$(dirname "$0")/ipvsadm-edits.sh"
ipvsadm -S -n > "$out/ipvsadm-edits-Sn.txt"
ipvsadm --version > "$out/ipvsadm-version.txt" 2>&1 || true
uname -r >> "$out/ipvsadm-version.txt"
echo capture-ok
