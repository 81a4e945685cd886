"""Images in class folders, the layout ``keras.utils.image_dataset_from_directory`` reads: one
subfolder per class, its name the class name. Introduced in the chapter on images from folders.

`check` finds what would go wrong in training, before it starts, naming each file; `split`
copies a random selection of each class into train/, validation/ and test/ folders, as the
notes do before they train.
"""

import hashlib
import json
import random
import shutil
from pathlib import Path

import tensorflow as tf

from cnnbook import validate
from cnnbook.datasets import registry

# The files image_dataset_from_directory reads; it skips every other file without a word.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
SPLITS = ("train", "validation", "test")


def class_folders(directory):
    """The class subfolders of directory, sorted as Keras numbers the classes; ValueError if
    there is no such folder or it has no subfolders."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder; pass the folder that holds the classes")
    classes = sorted(path for path in directory.iterdir() if path.is_dir())
    if not classes:
        raise ValueError(
            f"{directory} has no subfolders; put each class's images in a subfolder named "
            "for the class, e.g. daisy/ and sunflower/"
        )
    return classes


def check(directory):
    """Decode every file of directory's class folders as training would; returns the number of
    images per class, or raises one ValueError that names every empty class folder, non-image
    file and image that cannot be decoded."""
    problems, counts = [], {}
    for folder in class_folders(directory):
        files = sorted(path for path in folder.rglob("*") if path.is_file())
        counts[folder.name] = 0
        for file in files:
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                problems.append(
                    f"{file}: not an image file ({file.suffix or 'no extension'}); "
                    f"image_dataset_from_directory reads only {', '.join(IMAGE_EXTENSIONS)} "
                    "and would skip it silently: convert it or move it out of the class folders"
                )
                continue
            try:
                tf.io.decode_image(tf.io.read_file(str(file)), channels=3, expand_animations=False)
            except tf.errors.InvalidArgumentError as error:
                problems.append(
                    f"{file}: cannot be decoded ({decoder_message(error)}); it is corrupt, "
                    "truncated or not "
                    "really an image: replace it or remove it"
                )
                continue
            counts[folder.name] += 1
        if not files:
            problems.append(
                f"{folder}: empty class folder; image_dataset_from_directory would still count "
                "it as a class, with no images: add its images or remove the folder"
            )
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise ValueError(f"{directory} cannot be trained on as it is:\n{listed}")
    return counts


def decoder_message(error):
    """The decoder's own words in a TensorFlow error, without TensorFlow's node names."""
    return error.message.split("}}", 1)[-1].split("[Op:")[0].split("\n")[0].strip()


def split(directory, train, validation, test, seed=0):
    """Copy a random selection of each class into train/, validation/ and test/ folders.

    train, validation and test are totals, shared equally among the classes. The split is made
    once, in the user cache under a key of the files and the arguments, and published with one
    os.replace; returns {"train": folder, "validation": folder, "test": folder}.
    """
    counts = {
        name: validate.whole_number(value, name)
        for name, value in zip(SPLITS, (train, validation, test), strict=True)
    }
    classes = class_folders(directory)
    files = {folder.name: sorted(path.name for path in folder.iterdir()) for folder in classes}
    per_class = {name: total // len(classes) for name, total in counts.items()}
    for name, total in counts.items():
        if total % len(classes):
            raise ValueError(
                f"{name}={total} cannot be shared equally among {len(classes)} classes; use a "
                f"multiple of {len(classes)}"
            )
    for name, names in files.items():
        if len(names) < sum(per_class.values()):
            raise ValueError(
                f"class {name!r} has {len(names)} images, fewer than the "
                f"{sum(per_class.values())} per class that train={train}, validation="
                f"{validation} and test={test} ask for; ask for fewer"
            )
    description = json.dumps(
        [str(Path(directory).resolve()), files, counts, seed], sort_keys=True
    ).encode()
    target = registry.cache_dir() / "splits" / hashlib.sha256(description).hexdigest()[:16]

    def copy(draft):
        for folder in classes:
            chosen = random.Random(f"{seed}-{folder.name}").sample(
                files[folder.name], sum(per_class.values())
            )
            start = 0
            for name in SPLITS:
                (draft / name / folder.name).mkdir(parents=True)
                for file in chosen[start : start + per_class[name]]:
                    shutil.copyfile(folder / file, draft / name / folder.name / file)
                start += per_class[name]

    registry.publish_folder(target, copy)
    return {name: target / name for name in SPLITS}
