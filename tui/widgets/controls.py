"""The controls panel: the comparison to run, as a form that checks itself as you type.

Each bad value is marked where it is, with the engine's own reason, and the screen refuses
to start until the form is clean. While a run is going the form is locked (a note says so),
so a run never mixes settings.
"""

from __future__ import annotations

from actlab.engine import RunConfig
from actlab.engine.activation_lookup import lookup
from actlab.engine.activations import BUILTIN_NAMES, known_names
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from ..messages import SettingsChanged
from ..settings import FIELDS, FORM_ERROR, FieldSpec, FormValues, check_settings, form_values, format_value


class ControlsPanel(VerticalScroll):
    """Settings of the next run. `set_config` fills it; it posts SettingsChanged on edits."""

    DEFAULT_CSS = """
    ControlsPanel {
        width: 34;
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        & .section { text-style: bold; color: $text-accent; margin-top: 1; }
        & .section.first { margin-top: 0; }
        & #lock-note { color: $warning; display: none; }
        &.-locked #lock-note { display: block; }
        & SelectionList { height: auto; max-height: 10; }
        & #activation-note { color: $text-muted; height: auto; }
        & .setting { height: 1; }
        & .setting Label { width: 15; color: $text-muted; }
        & .setting Input, & .setting Select { width: 1fr; }
        & .setting.-invalid Label { color: $text-error; }
        & .setting.-invalid Input { background: $error 25%; }
        & .error { color: $text-error; height: auto; display: none; }
        & .error.-shown { display: block; }
        & .hidden { display: none; }
    }
    """

    locked: reactive[bool] = reactive(False)

    def __init__(self, config: RunConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.base = config  # supplies the fields the form does not show (device, cache, ...)
        self.errors: dict[str, str] = {}
        self.config: RunConfig | None = config
        self.fixed_paths: tuple[str | None, str | None] | None = None  # (data_dir, cache_dir)

    def compose(self) -> ComposeResult:
        yield Static(
            "Settings are locked while a run is going: stop it (ctrl+g) to change them.", id="lock-note"
        )
        yield Label("Activations (space toggles)", classes="section first")
        yield SelectionList[str](
            *[Selection(name, name, name in self.base.activations) for name in self.choices(self.base)],
            id="f-activations",
            compact=True,
        )
        yield Static(id="activation-note")
        yield Static(classes="error", id="err-activations")
        yield Label("Network and training", classes="section")
        for spec in FIELDS:
            if spec.name == "init":
                yield Label("Regularization and clipping", classes="section")
            elif spec.name == "thresholds":
                yield Label("Measure and data", classes="section")
            with Horizontal(classes="setting", id=f"row-{spec.name}"):
                yield Label(spec.label)
                yield self._editor(spec)
            yield Static(classes="error", id=f"err-{spec.name}")
        yield Static(classes="error", id=f"err-{FORM_ERROR}")

    @staticmethod
    def choices(config: RunConfig) -> list[str]:
        """The list's members (and so the members' order): the registry, each entry followed by
        the specs of `config` with its parameters, then the user's functions of `config`.
        Activations installed packages register join after the first frame."""
        names: list[str] = []
        extra = [a for a in config.activations if a not in BUILTIN_NAMES]
        for name in BUILTIN_NAMES:  # a parametric spec right after its entry: leaky_relu(0.01)
            names.append(name)
            names.extend(a for a in extra if a.partition("(")[0] == name)
        return [*names, *(a for a in extra if a not in names)]

    def _add_entry_points(self) -> None:
        chooser = self.query_one("#f-activations", SelectionList)
        listed = {chooser.get_option_at_index(i).value for i in range(chooser.option_count)}
        for name in known_names():
            if name not in listed:
                chooser.add_option(Selection(name, name, name in self.base.activations))

    def add_member(self, spec: str) -> None:
        """Put `spec` in the list if it is not there, and select it."""
        chooser = self.query_one("#f-activations", SelectionList)
        if spec not in [chooser.get_option_at_index(i).value for i in range(chooser.option_count)]:
            chooser.add_option(Selection(spec, spec, True))
        chooser.select(spec)

    def _editor(self, spec: FieldSpec) -> Widget:
        value = getattr(self.base, spec.name)
        if spec.kind == "choice":
            editor: Widget = Select(
                [(c, c) for c in spec.choices],
                value=value,
                allow_blank=False,
                compact=True,
                id=f"f-{spec.name}",
            )
        else:
            editor = Input(format_value(spec, value), compact=True, id=f"f-{spec.name}")
        editor.tooltip = spec.tooltip
        return editor

    def on_mount(self) -> None:
        if getattr(self.app, "served", False):  # in a browser: the folders stay the server's
            self.fixed_paths = (self.base.data_dir, self.base.cache_dir)
        self._update_dependent()
        self._show_activation(self.base.activations[0] if self.base.activations else None)
        self.revalidate()
        self.call_after_refresh(self._add_entry_points)  # scanning packages: after the first frame

    # --- reading and writing the form ---------------------------------------------------------

    def set_config(self, config: RunConfig) -> None:
        """Show `config` in the form (a reset, or the settings of a saved run)."""
        if self.fixed_paths is not None:
            config = config.replace(data_dir=self.fixed_paths[0], cache_dir=self.fixed_paths[1])
        self.base = config
        chooser = self.query_one("#f-activations", SelectionList)
        listed = [chooser.get_option_at_index(i).value for i in range(chooser.option_count)]
        wanted = self.choices(config)
        if any(name not in listed for name in config.activations):
            # its members in the list's order, which is the order they run in
            keep = [name for name in listed if name not in wanted and name not in BUILTIN_NAMES]
            chooser.clear_options()
            chooser.add_options([Selection(name, name, False) for name in [*wanted, *keep]])
        chooser.deselect_all()
        for name in config.activations:
            chooser.select(name)
        for spec in FIELDS:
            value = getattr(config, spec.name)
            if spec.kind == "choice":
                self.query_one(f"#f-{spec.name}", Select).value = value
            else:
                self.query_one(f"#f-{spec.name}", Input).value = format_value(spec, value)
        self._update_dependent()
        self.revalidate()

    def form_values(self) -> FormValues:
        chooser = self.query_one("#f-activations", SelectionList)
        chosen = set(chooser.selected)
        listed = [chooser.get_option_at_index(i).value for i in range(chooser.option_count)]

        def text(spec: FieldSpec) -> str:
            if spec.kind == "choice":
                value = self.query_one(f"#f-{spec.name}", Select).value
                return value if isinstance(value, str) else ""  # no blank: always a choice
            return self.query_one(f"#f-{spec.name}", Input).value

        return form_values([a for a in listed if a in chosen], text)  # members in the list's order

    def toggle_activation(self, name: str) -> None:
        self.query_one("#f-activations", SelectionList).toggle(name)

    def revalidate(self) -> None:
        """Check the whole form, mark each bad field, and tell the screen."""
        config, errors = check_settings(self.base, self.form_values())
        self.config, self.errors = config, errors
        for name in ["activations", *[s.name for s in FIELDS], FORM_ERROR]:
            message = errors.get(name)
            note = self.query_one(f"#err-{name}", Static)
            note.update(message or "")
            note.set_class(message is not None, "-shown")
            if name not in ("activations", FORM_ERROR):
                self.query_one(f"#row-{name}").set_class(message is not None, "-invalid")
        self.post_message(SettingsChanged(config, errors))
        self._reveal_focused_error()

    def _reveal_focused_error(self) -> None:
        """Scroll so the reason under the field being edited is in view, not just the field."""
        focused = self.screen.focused if self.is_attached else None
        field_id = focused.id if focused is not None and focused.id else ""
        if not field_id.startswith("f-"):
            return
        note = self.query(f"#err-{field_id[2:]}")
        if note and note.first().has_class("-shown"):
            self.call_after_refresh(self.scroll_to_widget, note.first(), animate=False)

    def _update_dependent(self) -> None:
        """Fields that only matter for some choices: show or enable them accordingly."""
        values = self.form_values()
        self.query_one("#row-data_dir").set_class(values["dataset"] != "idx", "hidden")
        self.query_one("#err-data_dir").set_class(values["dataset"] != "idx", "hidden")
        self.query_one("#f-data_dir").disabled = self.locked or self.fixed_paths is not None
        self.query_one("#f-clip_threshold").disabled = self.locked or values["clip"] == "none"
        self.query_one("#f-momentum").disabled = self.locked or values["optimizer"] != "sgd"

    def _show_activation(self, name: str | None) -> None:
        act = lookup(name) if name else None
        note = self.query_one("#activation-note", Static)
        if act is None:
            note.update("")
            return
        text = Text()
        text.append(f"{act.name}: ", style="bold")
        text.append(f"{act.formula}\n")
        text.append(act.note)
        note.update(text)

    # --- events -------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(SelectionList.SelectedChanged)
    def _changed(self) -> None:
        self._update_dependent()
        self.revalidate()

    @on(SelectionList.SelectionHighlighted)
    def _highlighted(self, event: SelectionList.SelectionHighlighted[str]) -> None:
        self._show_activation(event.selection.value)

    def watch_has_focus(self, has_focus: bool) -> None:
        # Textual restyles a widget and everything in it when its focus changes. Only the
        # panel's own look (its scrollbar) depends on its focus, no rule styles a field by it
        # (a test checks), so the hundred-odd widgets of the form are left as they are: the
        # first key that moves focus from the form (to the tabs, say) costs a frame, not a
        # restyle of the whole form.
        self.app.stylesheet.update_nodes([self], animate=True)

    def watch_locked(self, locked: bool) -> None:
        self.set_class(locked, "-locked")
        for widget in self.query("Input, Select, SelectionList"):
            widget.disabled = locked
        if self.is_mounted:
            self._update_dependent()
