VIP=$(hostname -i)
-A -t $VIP:80
