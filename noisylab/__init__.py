"""noisylab: label-noise robustness studies.

Importing this package stays light: it must not import TensorFlow or Keras.
"""

__version__ = "0.1.0"
