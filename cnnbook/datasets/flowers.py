"""The flower photos: daisies and sunflowers, 128×128 RGB JPEGs in one folder per class, as
``keras.utils.image_dataset_from_directory`` reads them. Introduced in the chapter on images
from folders.

The registry holds them as one tar (``flowers``, checked by SHA-256); `load_data` unpacks it
once into the user cache, never into the repository, and returns the folder.
"""

import tarfile

from cnnbook.datasets import registry

CLASS_NAMES = ("daisy", "sunflower")  # the class folders, in the order Keras labels them 0, 1


def load_data():
    """The folder that holds daisy/ and sunflower/ (1,497 JPEGs), unpacked into the user cache.

    The tar is unpacked into a temporary folder and published in one step
    (`registry.publish_folder`), so a reader never sees half a folder; a copy is reused.
    """
    tar = registry.path("flowers")

    def unpack(draft):
        with tarfile.open(tar) as archive:
            archive.extractall(draft, filter="data")

    target = registry.cache_dir() / f"flowers-{registry.entry('flowers')['sha256'][:12]}"
    return registry.publish_folder(target, unpack) / "flowers"
