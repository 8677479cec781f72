ipvsadm --set 900
