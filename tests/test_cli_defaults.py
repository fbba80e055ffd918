"""One set of defaults: `explain`/`export` open a family on its masked-max model, as the window and
`concepts` do; a single model on its native pooling."""
import argparse

from eclip_desktop.cli import build_parser
from eclip_desktop.cli.common import poolings_arg


def test_a_family_defaults_to_masked_max_and_a_single_model_to_native():
    assert poolings_arg(argparse.Namespace(model=None, pooling=None)) == ["masked_max"]
    assert poolings_arg(argparse.Namespace(model="eclip-shapes-vit-ft", pooling=None)) == ["masked_max"]
    assert poolings_arg(argparse.Namespace(model="eclip-tiny-vit", pooling=None)) == ["native"]
    assert poolings_arg(argparse.Namespace(model=None, pooling=["avg"])) == ["avg"]


def test_help_states_the_defaults(capsys):
    parser = build_parser()
    for command in ("explain", "export"):
        text = parser._subparsers._group_actions[0].choices[command].format_help()
        assert "masked-max model" in " ".join(text.split()), command
        assert "default viridis" in " ".join(text.split()), command
