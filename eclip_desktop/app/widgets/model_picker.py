"""Model picker: one searchable list in groups — embedded families (and family folders) first,
then architectures with downloaded weights, local checkpoint files, architectures that need a
download, and, greyed, the architectures the tool cannot explain here (the tooltip and choosing one
say why); the project's weightless training configs (eclip-tiny-*) only when asked for.

Choosing an entry loads it; until it has loaded the picker says so in bold (the window keeps the
old model's maps meanwhile). The open_clip part of the list comes from a worker (importing
open_clip takes seconds), so the window opens without waiting for it.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from eclip_desktop.app.dialogs.architecture import ArchitectureDialog
from eclip_desktop.core.model.family import (
    FAMILY,
    embedded_families,
    family_architecture,
    family_available,
    family_dir,
)
from eclip_desktop.core.model.spec import RANDOM
from eclip_desktop.viewer.state import ModelChoice


# open_clip is imported on first call only (see the module docstring).
def list_architectures() -> list[str]:
    from eclip_desktop.core.model.loading import list_architectures as names
    return names()


def list_pretrained_tags(architecture: str) -> list[str]:
    from eclip_desktop.core.model.loading import list_pretrained_tags as tags
    return tags(architecture)


def is_tag_cached(architecture: str, tag: str) -> bool:
    from eclip_desktop.core.model.loading import is_tag_cached as cached
    return cached(architecture, tag)


HEADER_ROLE = Qt.UserRole + 7  # marks a group title row (not a model)
REFUSED_GROUP = "Not explainable here (hover for why)"
CHECKPOINT_FILTER = "Model checkpoints (*.safetensors *.bin *.pt *.pth);;All files (*)"


COMMON = ("ViT-B-16", "ViT-B-32", "RN50", "ViT-L-14")


def initial_architecture(names: list[str]) -> str:
    """What the picker shows first: the embedded family, else a common model whose weights are
    already downloaded, else ViT-B-16 — never a tiny untrained config."""
    if family_available():
        return FAMILY
    for arch in COMMON:
        if arch in names and any(is_tag_cached(arch, t) for t in list_pretrained_tags(arch)):
            return arch
    return "ViT-B-16" if "ViT-B-16" in names else (names[0] if names else "")


class ModelPicker(QWidget):
    load_requested = Signal(object)  # ModelChoice without a device (the window adds it)
    refused = Signal(str)  # why a chosen folder, file or architecture cannot be used

    def __init__(self, parent=None, prompt: str = ""):
        """prompt: what a picker that starts with nothing chosen says (the comparison's second model);
        without one the picker starts on the embedded family, or a common downloaded model."""
        super().__init__(parent)
        self.prompt = prompt
        self.arch = QComboBox()
        self.arch.setEditable(True)
        self.arch.setInsertPolicy(QComboBox.NoInsert)
        self.arch.setMaxVisibleItems(24)
        self.arch.lineEdit().setPlaceholderText("type to search models")
        self.arch.setToolTip("Type to search; choosing a model loads it")
        self.weights = QComboBox()
        # Tag names such as laion2b_s34b_b88k would otherwise widen the whole Controls dock.
        for combo in (self.arch, self.weights):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        self.weights.setToolTip("Weights: a pretrained tag (cached ones load offline), a checkpoint file, "
                                "or random (untrained) for a dry run; choosing loads them")
        self.show_configs = QCheckBox("Show training configs (no weights)")
        self.show_configs.setToolTip("The project's tiny architectures for `eclip-desktop train`: untrained, "
                                     "their maps mean nothing until you train them")
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setStyleSheet("color: palette(placeholder-text);")
        # While a load runs: what is coming and what still draws the maps (bold, so it is not missed).
        self.pending = QLabel()
        self.pending.setWordWrap(True)
        self.pending.setStyleSheet("font-weight: bold; color: #b36b00;")
        self.pending.hide()
        self.load_button = QPushButton("Load model")
        self.load_button.setToolTip("Load the choice again (e.g. after changing Device)")
        self.load_button.setDefault(False)
        self.checkpoint_button = QPushButton("Open checkpoint\u2026")
        self.checkpoint_button.setToolTip("Load weights from a local .safetensors/.bin/.pt file")
        self.catalogue = None  # workers.catalogue.Catalogue once the worker has listed open_clip
        self._checkpoints: dict[str, list[str]] = {}
        self._families: list[str] = []  # family folders opened this session, shown after the embedded one
        self._extra: list[str] = []  # models in use that no group lists (e.g. a config given on the command line)
        self._embedded = embedded_families()
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Model"), 0, 0)
        grid.addWidget(self.arch, 0, 1)
        grid.addWidget(QLabel("Weights"), 1, 0)
        grid.addWidget(self.weights, 1, 1)
        grid.addWidget(self.show_configs, 2, 0, 1, 2)
        grid.addWidget(self.about, 3, 0, 1, 2)
        grid.addWidget(self.pending, 4, 0, 1, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.checkpoint_button)
        grid.addLayout(buttons, 5, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        self._fill_architectures(FAMILY if family_available() and not prompt else "")
        self.arch.currentTextChanged.connect(lambda *_: self._fill_weights())
        self.arch.activated.connect(self._arch_chosen)
        self.weights.activated.connect(lambda *_: self._load_clicked())
        self.show_configs.toggled.connect(lambda *_: self._fill_architectures(self.architecture()))
        self.load_button.clicked.connect(self._load_clicked)
        # clicked(bool) must not reach open_checkpoint(path): the click would skip the dialog.
        self.checkpoint_button.clicked.connect(lambda *_: self.open_checkpoint())
        self._fill_weights()

    # --- the list -------------------------------------------------------------------------------

    def set_catalogue(self, catalogue) -> None:
        """The open_clip part of the list, from the worker; keeps what is selected."""
        self.catalogue = catalogue
        current = self.architecture()
        if not current and not self.prompt:
            current = initial_architecture(catalogue.architectures)
        self._fill_architectures(current)
        self._fill_weights()

    def _groups(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(group title, [(architecture, tooltip)]); the first group has no title row."""
        from eclip_desktop.viewer.jobs.catalogue import training_configs
        first = [(n, "embedded family: small CLIPs trained here, one per pooling") for n in self._embedded]
        first += [(n, "family folder: one trained model per pooling") for n in self._families]
        first += [(n, "in use") for n in self._extra]
        groups = [("", first)]
        cat = self.catalogue
        if cat is None:
            groups.append(("listing open_clip models \u2026", []))
            return groups
        configs = training_configs()
        listed = {n for n, _ in first}
        names = [a for a in cat.architectures if a not in configs and a not in listed]
        cached = [a for a in names if cat.cached(a)]
        groups.append(("Downloaded weights", [(a, "cached: " + ", ".join(cat.cached(a))) for a in cached]))
        files = [(a, "checkpoint: " + ", ".join(self._checkpoints[a])) for a in self._checkpoints]
        groups.append(("Local files", files))
        groups.append(("Needs a download", [(a, "weights are not downloaded: the first load needs the internet")
                                            for a in names if a not in cached]))
        groups.append((REFUSED_GROUP, [(a, why) for a, why in cat.refused.items()
                                       if a not in configs and a not in listed]))
        if self.show_configs.isChecked():
            groups.append(("Training configs (no weights)", [(a, "untrained config for `eclip-desktop train`")
                                                             for a in cat.architectures if a in configs]))
        return groups

    def _fill_architectures(self, select: str) -> None:
        model = QStandardItemModel(self.arch)
        for title, entries in self._groups():
            if title:
                header = QStandardItem(f"\u2014 {title} \u2014" if entries or "\u2026" in title else
                                       f"\u2014 {title}: none \u2014")
                header.setFlags(Qt.NoItemFlags)  # a title, not a choice
                header.setData(True, HEADER_ROLE)
                font = header.font()
                font.setBold(True)
                header.setFont(font)
                model.appendRow(header)
            for name, tip in entries:
                item = QStandardItem(name)
                item.setToolTip(tip)
                if title == REFUSED_GROUP:  # listed so that it is found, greyed so that it is not expected to load
                    item.setForeground(self.palette().brush(QPalette.Disabled, QPalette.Text))
                model.appendRow(item)
        self.arch.blockSignals(True)
        self.arch.setModel(model)
        self.arch.setCurrentIndex(max(0, self.arch.findText(select)) if select else -1)
        if select and self.arch.findText(select) < 0:
            self.arch.setEditText(select)
        self.arch.blockSignals(False)
        completer = QCompleter(model, self.arch)
        completer.setFilterMode(Qt.MatchContains)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        self.arch.setCompleter(completer)

    def entries(self) -> list[str]:
        """The model names listed, in order, without the group titles."""
        return [self.arch.itemText(i) for i in range(self.arch.count())
                if not self.arch.itemData(i, HEADER_ROLE)]

    def architecture(self) -> str:
        return self.arch.currentText().strip()

    def set_pending(self, text: str) -> None:
        self.pending.setText(text)
        self.pending.setVisible(bool(text))

    def refusal(self, arch: str | None = None) -> str | None:
        """Why the architecture (the one shown) cannot be explained here, or None."""
        arch = self.architecture() if arch is None else arch
        return self.catalogue.refused.get(arch) if self.catalogue is not None else None

    def _tags(self, arch: str) -> list[tuple[str, bool]]:
        return self.catalogue.tags.get(arch, []) if self.catalogue is not None else []

    def _fill_weights(self, keep: str | None = None) -> None:
        arch = self.architecture()
        self.weights.clear()
        if not arch and self.prompt:
            self.weights.setEnabled(False)
            self.about.setText(self.prompt)
            return
        if arch in self._embedded or arch in self._families:
            embedded = arch in self._embedded
            self.weights.addItem(f"trained per pooling ({'embedded' if embedded else 'family folder'})", None)
            self.weights.setEnabled(False)
            where = "Embedded family" if embedded else "Family folder (as `eclip-desktop train --out` writes it)"
            self.about.setText(f"{where}: {family_architecture(arch)} models trained with each pooling. "
                               "Switching pooling switches model, so the map itself changes.")
            return
        why = self.refusal(arch)
        if why:
            self.weights.addItem("\u2014", None)
            self.weights.setEnabled(False)
            self.about.setText(f"Not explainable here: {why}")
            return
        self.weights.setEnabled(True)
        tags = self._tags(arch)
        for tag, cached in tags:
            self.weights.addItem(f"{tag} ({'cached' if cached else 'not downloaded'})", tag)
        for path in self._checkpoints.get(arch, []):
            self.weights.addItem(f"checkpoint: {path}", path)
        if keep and self.weights.findData(keep) < 0 and keep != RANDOM:
            self.weights.addItem(keep, keep)  # what is loaded, before the catalogue names its tags
        self.weights.addItem("random (untrained \u2014 maps mean nothing)", RANDOM)
        cached = [i for i, (_, c) in enumerate(tags) if c]
        preferred = self.catalogue.preferred_tag(arch) if self.catalogue is not None else None
        names = [t for t, _ in tags]
        index = cached[0] if cached else (names.index(preferred) if preferred in names else 0)
        if keep is not None and self.weights.findData(keep) >= 0:
            index = self.weights.findData(keep)
        self.weights.setCurrentIndex(index)
        if self.catalogue is None:
            self.about.setText("Listing the open_clip models and their weights \u2026")
        else:
            self.about.setText("open_clip architecture; weights that are not downloaded need an internet "
                               "connection once." if tags else "No published weights: use a checkpoint or random.")

    def _arch_chosen(self, index: int) -> None:
        if self.arch.itemData(index, HEADER_ROLE):
            return
        self._fill_weights()
        self._load_clicked()

    def choice(self) -> ModelChoice:
        arch = self.architecture()
        if arch in self._embedded or arch in self._families:
            return ModelChoice(arch)
        return ModelChoice(arch, self.weights.currentData())

    def set_choice(self, choice: ModelChoice) -> None:
        """Show a model that was loaded some other way (session, command line, fall-back)."""
        if choice.family and choice.architecture not in self._embedded:
            self._remember_family(choice.architecture)
        elif not choice.family and choice.pretrained and choice.pretrained != RANDOM \
                and choice.pretrained not in [t for t, _ in self._tags(choice.architecture)] \
                and self.catalogue is not None:
            self._remember_checkpoint(choice.architecture, choice.pretrained)
        if self.arch.findText(choice.architecture) < 0 and choice.architecture not in self._extra:
            self._extra.append(choice.architecture)  # the picker always names the model in use
        self._fill_architectures(choice.architecture)
        self._fill_weights(keep=None if choice.family else choice.pretrained)

    def refresh_list(self) -> None:
        """Fill the list again, keeping the choice (another picker may have opened a folder or file)."""
        self._fill_architectures(self.architecture())

    def clear_choice(self) -> None:
        """Back to nothing chosen (a picker with a prompt, after its first load failed)."""
        self._fill_architectures("")
        self._fill_weights()

    def share_lists(self, other: "ModelPicker") -> None:
        """List the family folders and checkpoints opened in `other` too (one list of what was opened)."""
        self._checkpoints, self._families = other._checkpoints, other._families

    def _remember_checkpoint(self, arch: str, path: str) -> None:
        known = self._checkpoints.setdefault(arch, [])
        if path not in known:
            known.append(path)

    def _remember_family(self, folder: str) -> None:
        if folder not in self._families:
            self._families.append(folder)
            self._fill_architectures(self.architecture())

    def open_family(self, folder: str | None = None) -> None:
        """Load a folder of `eclip-desktop train` outputs (<pooling>.safetensors + card) as a family."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Open a model family folder")
            if not folder:
                return
        if family_dir(folder) is None:
            self.refused.emit(f"{folder} holds no trained models: a family folder has <pooling>.safetensors "
                              "with its <pooling>.json card, as `eclip-desktop train --pooling P --out DIR` "
                              "writes them.")
            return
        choice = ModelChoice(folder)
        self.set_choice(choice)
        self.load_requested.emit(choice)

    def _load_clicked(self) -> None:
        why = self.refusal()
        if why:
            self.refused.emit(f"{self.architecture()} cannot be explained here: {why}")
            return
        self.load_requested.emit(self.choice())

    def open_checkpoint(self, path: str | None = None, arch: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a CLIP checkpoint", "", CHECKPOINT_FILTER)
            if not path:
                return
        if arch is None:
            # Before the worker has listed open_clip the picker lists only the families: ask open_clip here.
            names = self.catalogue.architectures if self.catalogue is not None else list_architectures()
            arch = ArchitectureDialog.ask(self, path, names, self.architecture())
            if not arch:
                return
        self._remember_checkpoint(arch, path)
        self.set_choice(ModelChoice(arch, path))
        self.load_requested.emit(ModelChoice(arch, path))
