"""Builds the shmq extension from python/shmqmodule.c and the library's
own sources (../src), compiled into the module as `make` links
build/libshmq.a: the module needs no libshmq.so, and its symbols other
than PyInit_shmq stay hidden. The type stubs go in as shmq-stubs (PEP
561)."""
import glob
import os

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)  # the paths below are relative to python/
lib = sorted(glob.glob("../src/*.c"))
if not lib:
    raise SystemExit("setup.py: ../src/*.c not found: build from the shmq tree")

setup(
    ext_modules=[Extension(
        "shmq",
        sources=["shmqmodule.c"] + lib,
        include_dirs=["../include", "../src"],
        define_macros=[("_GNU_SOURCE", None)],
        extra_compile_args=["-std=c11", "-fvisibility=hidden"],
        extra_link_args=["-Wl,--exclude-libs,ALL"],
        libraries=["pthread"],
    )],
    packages=["shmq-stubs"],
    package_data={"shmq-stubs": ["__init__.pyi"]},
)
