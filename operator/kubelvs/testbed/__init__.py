"""A disposable VM with a real IPVS kernel (virtme-ng + Debian's kernel) for kernel tests, demos and benchmarks.

``python -m kubelvs.testbed pytest [ARGS...]`` runs ``tests/kernel`` inside it; ``python -m kubelvs.testbed run --
CMD...`` runs any command. :func:`kubelvs.testbed.vm.run_in_vm` is the same from Python.

What is product and what is harness: ``kubelvs demo`` (a user's command) is built from ``vm``, ``stack``,
``chart``, ``namespaces``, ``launcher``, ``webserver``, ``apiserver`` (the demo's API server is the emulator)
and ``demo``; the same pieces are the full-stack tests' harness, so the demo shows what the tests prove. Only
``__main__``'s pytest runner and the emulator's fault injectors (``partitioned``, ``interlopers``) serve tests
alone. None of it is part of the operator's or the agents' runtime: import-linter forbids ``api``,
``planner``, ``kernel``, ``formats``, ``agent`` and ``controller`` to import it (or kmock), and kmock's private
internals are imported in one place, ``apiserver``.
"""
