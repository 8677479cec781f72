"""A disposable VM with a real IPVS kernel (virtme-ng + Debian's kernel) for kernel tests, demos and benchmarks.

``python -m kubelvs.testbed pytest [ARGS...]`` runs ``tests/kernel`` inside it; ``python -m kubelvs.testbed run --
CMD...`` runs any command. :func:`kubelvs.testbed.vm.run_in_vm` is the same from Python.
"""
