"""Model picker: the embedded family first, then every open_clip architecture and its weights.

Weights are marked cached or not downloaded, so a user offline sees before pressing Load which
choices can work; "random (untrained)" is offered only as an explicit, labelled choice.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QWidget,
)

from eclip_desktop.app.state import ModelChoice
from eclip_desktop.core.model.family import (
    FAMILY,
    embedded_families,
    family_architecture,
    family_available,
    family_dir,
)
from eclip_desktop.core.model.loading import (
    RANDOM,
    default_tag,
    is_tag_cached,
    list_architectures,
    list_pretrained_tags,
)

CHECKPOINT_FILTER = "Model checkpoints (*.safetensors *.bin *.pt *.pth);;All files (*)"


def supported_architectures() -> list[str]:
    """Architectures whose towers the core reads (open_clip ViT/ResNet, open_clip text tower).

    The others (timm, CoCa, SigLIP, Hugging Face text towers) would only fail at Load; a name typed
    into the box still goes to the core, which says why it is refused.
    """
    import open_clip
    out = []
    for name in list_architectures():
        cfg = open_clip.get_model_config(name) or {}
        vision, text = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
        if vision.get("timm_model_name") or vision.get("attentional_pool") or text.get("hf_model_name") \
                or "coca" in name.lower():
            continue
        out.append(name)
    return out


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
    refused = Signal(str)  # why a chosen folder or file cannot be used

    def __init__(self, parent=None):
        super().__init__(parent)
        self.arch = QComboBox()
        self.arch.setEditable(True)
        self.arch.setInsertPolicy(QComboBox.NoInsert)
        self.arch.setToolTip("Model architecture; type to search")
        self.weights = QComboBox()
        # Tag names such as laion2b_s34b_b88k would otherwise widen the whole Controls dock.
        for combo in (self.arch, self.weights):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        self.weights.setToolTip("Weights: a pretrained tag (cached ones load offline), a checkpoint file, "
                                "or random (untrained) for a dry run")
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setStyleSheet("color: palette(placeholder-text);")
        self.load_button = QPushButton("Load model")
        self.load_button.setDefault(False)
        self.checkpoint_button = QPushButton("Open checkpoint\u2026")
        self.checkpoint_button.setToolTip("Load weights from a local .safetensors/.bin/.pt file")
        self._checkpoints: dict[str, list[str]] = {}
        self._families: list[str] = []  # family folders opened this session, shown after the embedded one
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Model"), 0, 0)
        grid.addWidget(self.arch, 0, 1)
        grid.addWidget(QLabel("Weights"), 1, 0)
        grid.addWidget(self.weights, 1, 1)
        grid.addWidget(self.about, 2, 0, 1, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.checkpoint_button)
        grid.addLayout(buttons, 3, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        self._fill_architectures()
        self.arch.currentTextChanged.connect(lambda *_: self._fill_weights())
        self.load_button.clicked.connect(self._load_clicked)
        self.checkpoint_button.clicked.connect(self.open_checkpoint)
        self._fill_weights()

    def _fill_architectures(self) -> None:
        names = supported_architectures()
        self._embedded = embedded_families()
        for i, name in enumerate(self._embedded):
            self.arch.addItem(name)
            self.arch.setItemData(i, "embedded family: small CLIPs trained here, one per pooling", Qt.ToolTipRole)
        self.arch.addItems(names)
        self.arch.setCurrentIndex(max(0, self.arch.findText(initial_architecture(names))))
        completer = QCompleter(self.arch.model(), self.arch)
        completer.setFilterMode(Qt.MatchContains)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        self.arch.setCompleter(completer)

    def architecture(self) -> str:
        return self.arch.currentText().strip()

    def _fill_weights(self) -> None:
        arch = self.architecture()
        self.weights.clear()
        if arch in self._embedded or arch in self._families:
            embedded = arch in self._embedded
            self.weights.addItem(f"trained per pooling ({'embedded' if embedded else 'family folder'})", None)
            self.weights.setEnabled(False)
            where = "Embedded family" if embedded else "Family folder (as `eclip-desktop train --out` writes it)"
            self.about.setText(f"{where}: {family_architecture(arch)} models trained with each pooling. "
                               "Switching pooling switches model, so the map itself changes.")
            return
        self.weights.setEnabled(True)
        tags = list_pretrained_tags(arch) if self.arch.findText(arch) >= 0 else []
        for tag in tags:
            cached = is_tag_cached(arch, tag)
            self.weights.addItem(f"{tag} ({'cached' if cached else 'not downloaded'})", tag)
        for path in self._checkpoints.get(arch, []):
            self.weights.addItem(f"checkpoint: {path}", path)
        self.weights.addItem("random (untrained \u2014 maps mean nothing)", RANDOM)
        preferred = default_tag(arch)
        cached = [i for i, t in enumerate(tags) if is_tag_cached(arch, t)]
        index = cached[0] if cached else (tags.index(preferred) if preferred in tags else 0)
        self.weights.setCurrentIndex(index)
        self.about.setText("open_clip architecture; weights that are not downloaded need an internet "
                           "connection once." if tags else "No published weights: use a checkpoint or random.")

    def choice(self) -> ModelChoice:
        arch = self.architecture()
        if arch in self._embedded or arch in self._families:
            return ModelChoice(arch)
        return ModelChoice(arch, self.weights.currentData())

    def set_choice(self, choice: ModelChoice) -> None:
        """Show a model that was loaded some other way (session, command line, fall-back)."""
        if choice.family and choice.architecture not in self._embedded:
            self._remember_family(choice.architecture)
        if self.arch.findText(choice.architecture) < 0:
            return
        if choice.pretrained and choice.pretrained not in list_pretrained_tags(choice.architecture) \
                and choice.pretrained != RANDOM:
            self._remember_checkpoint(choice.architecture, choice.pretrained)
        self.arch.blockSignals(True)
        self.arch.setCurrentIndex(self.arch.findText(choice.architecture))
        self.arch.blockSignals(False)
        self._fill_weights()
        if not choice.family:
            i = self.weights.findData(choice.pretrained)
            if i >= 0:
                self.weights.setCurrentIndex(i)

    def _remember_checkpoint(self, arch: str, path: str) -> None:
        known = self._checkpoints.setdefault(arch, [])
        if path not in known:
            known.append(path)

    def _remember_family(self, folder: str) -> None:
        if folder not in self._families:
            self._families.append(folder)
            at = len(self._families) - 1 + len(self._embedded)
            self.arch.insertItem(at, folder)
            self.arch.setItemData(at, "family folder: one trained model per pooling", Qt.ToolTipRole)

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
        self.load_requested.emit(self.choice())

    def open_checkpoint(self, path: str | None = None, arch: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a CLIP checkpoint", "", CHECKPOINT_FILTER)
            if not path:
                return
        if arch is None:
            names = [self.arch.itemText(i) for i in range(self.arch.count())
                     if self.arch.itemText(i) not in self._embedded + self._families]
            current = self.architecture()
            start = names.index(current) if current in names else 0
            arch, ok = QInputDialog.getItem(self, "Architecture of the checkpoint",
                                            "Which open_clip architecture are these weights for?",
                                            names, start, False)
            if not ok:
                return
        self._remember_checkpoint(arch, path)
        self.set_choice(ModelChoice(arch, path))
        self.load_requested.emit(ModelChoice(arch, path))
