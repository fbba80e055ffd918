"""Build glue pyproject.toml cannot express: the data git keeps outside the package ships inside it.

`resources/` (embedded model families, samples, model configs, the Shapes World concept file) is
installed as `eclip_desktop/resources/`, and `packaging/linux/` (desktop entry, icons, metainfo) as
`eclip_desktop/linux/`; `eclip_desktop.core.io.paths` finds them there in an installed wheel and at
the top of the source checkout otherwise (editable installs). Only the listed patterns ship, so
checkpoints or stage folders left next to the models stay out of the wheel. See docs/DEVELOPING.md.
"""
from setuptools import find_packages, setup

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

setup(
    packages=find_packages(include=["eclip_desktop", "eclip_desktop.*"]) + sorted(PACKAGE_DATA),
    package_dir={"eclip_desktop.resources": "resources", "eclip_desktop.linux": "packaging/linux"},
    package_data=PACKAGE_DATA,
)
