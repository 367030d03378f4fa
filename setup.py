"""Build of the fastgate extension modules (metadata lives in pyproject.toml)."""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

optimise = ["-O3"] if os.name != "nt" else ["/O2"]
modules = ["_codec", "_echo", "_gate", "_twilio"]
extensions = [
    Extension(
        f"fastgate.{name}",
        [f"src/fastgate/{name}.pyx"],
        include_dirs=["src/fastgate"],
        extra_compile_args=optimise,
    )
    for name in modules
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False},
    ),
)
