"""The offline MNIST sample, installed inside helpers as the package `helpers.sample_data`.

A package (not a bare folder) so that importlib.resources finds the file the same way in a wheel
and in an editable install: setuptools' editable finder maps only packages with an __init__.py.
Read it with `helpers.data.load_sample()`; see README.md here for its provenance and licence.
"""
