# nothing
#!/bin/sh
