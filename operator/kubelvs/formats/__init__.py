"""Text formats kube-lvs reads and writes: ``ipvsadm -S``/scripts, keepalived.conf, and CR YAML.

Parsers turn foreign configuration into API objects plus :class:`~kubelvs.formats.notes.Note` s for
everything they could not map (never a silent drop); renderers print API or netstate values as text.
No I/O beyond the strings they are given.
"""
