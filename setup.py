"""Build glue pyproject.toml cannot express: the data git keeps outside the package ships inside it.

`resources/` (embedded model families, samples, model configs, the Shapes World concept file) is
installed as `eclip_desktop/resources/`, and `packaging/linux/` (desktop entry, icons, metainfo) as
`eclip_desktop/linux/`; `eclip_desktop.core.io.paths` finds them there in an installed wheel and at
the top of the source checkout otherwise (editable installs). Only the listed patterns ship, so
checkpoints or stage folders left next to the models stay out of the wheel. See docs/DEVELOPING.md.
"""
from setuptools import find_namespace_packages, find_packages, setup

PACKAGE_DATA = {
    "eclip_desktop.resources": [
        "models/*/*.safetensors",
        "models/*/*.json",
        "model_configs/*.json",
        "samples/*.png",
        "samples/*.json",
        "shapes/*.json",
    ],
    "eclip_desktop.linux": ["*.desktop", "*.metainfo.xml", "icons/*.svg", "icons/*/*.png"],
}

PACKAGE_DIR = {"eclip_desktop.resources": "resources", "eclip_desktop.linux": "packaging/linux"}


def data_packages() -> list[str]:
    """The mapped folders and their subfolders whose names Python could import (models, samples, icons...):
    setuptools wants those listed as packages too, or it warns that their files "would be ignored"."""
    names = []
    for package, folder in PACKAGE_DIR.items():
        subs = find_namespace_packages(where=folder)
        names += [package] + [f"{package}.{sub}" for sub in subs if all(p.isidentifier() for p in sub.split("."))]
    return sorted(names)


setup(
    packages=find_packages(include=["eclip_desktop", "eclip_desktop.*"]) + data_packages(),
    package_dir=PACKAGE_DIR,
    package_data=PACKAGE_DATA,
)
