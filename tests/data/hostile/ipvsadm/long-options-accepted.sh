ipvsadm --add-service --tcp-service 192.0.2.1:80 --scheduler rr
ipvsadm --add-server --tcp-service 192.0.2.1:80 --real-server 10.0.0.1 --gatewaying --weight 3
