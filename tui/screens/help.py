"""The help screen (`?`): what each panel shows and what each word means, a sentence each."""

from __future__ import annotations

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..widgets.footer import KeyFooter

HELP = """\
# actlab: which activation function, and why?

actlab trains small networks that are identical except for their hidden activation, on the
same data in the same order, and shows how fast and how well each one learns.

## Panels

- **Settings** (left): the activations to compare and everything they share. A value that is
  not allowed is marked in red with the reason, and the run will not start until it is fixed.
  It hides while a run trains, so the results get the whole width; `ctrl+b` shows it (locked
  until the run ends) or hides it.
- **Accuracy**: test accuracy of each member at every evaluation; grey lines are the thresholds.
  Before any run it shows what will be compared: f (bright) and f' (pale) of each chosen
  activation, and their properties.
- **Loss**: mean training loss of each member between evaluations, on a log scale.
- **Gradients**: gradient norm of each layer's weights on a fixed probe batch, over
  iterations (log scale), and across depth at the latest point; for sigmoid a dotted line
  shows the 0.25 per layer shrink its derivative allows at best: vanishing gradients.
- **Saturation**: per layer, the fraction of saturated units (sigmoid, tanh and other
  squashing functions) or dead units (ReLU) over iterations, and the latest figures.
- **Functions**: f and f' of each member's activation, with the measured distribution of a
  layer's pre-activations behind them: where on the curve the units actually sit.
- **Clipping**: the gradient norm before clipping, the threshold, and how often steps were
  clipped (set clipping in the settings: by L2, L1 or L-infinity norm, or by value).
- **Properties**: the registry as a table (range, zero-centred, saturating, can die, cost)
  and the advice: start with ReLU, watch dead units, try Leaky ReLU, avoid sigmoid. After a
  run the cost is measured: each member's epoch alone, relative to relu's.
- **Table**: for each member and threshold, when it was reached, how much faster than the
  baseline, the final accuracy, seconds of one epoch of the member alone and of all members
  in lockstep, and its status.
- **Status line**: what the lab is doing, the data actually used, the device, progress,
  iterations per second, elapsed time and the folder where the run is saved.

## Words

- **member**: one network of the comparison; members differ only in their hidden activation.
- **iteration**: one optimizer step on one mini-batch, counted from 1 across epochs.
- **evaluation**: accuracy on the whole test split, every few iterations (shown in the status
  line) and at the end of each epoch; every figure in the table is only as fine as this.
- **first crossing**: the first evaluated iteration at which accuracy reached the threshold.
- **sustained crossing**: the first evaluated iteration from which accuracy never again fell
  below the threshold; the table writes "3852 (3781 first)" for sustained, then first.
- **not reached**: the member never got to the threshold ("not held" if it got there but fell back).
- **speedup**: the baseline's sustained crossing divided by this member's; the baseline is
  sigmoid when it is compared, else the first member.
- **final accuracy**: the mean test accuracy over the evaluations of the last epoch.
- **epoch time**: wall seconds of training per epoch, evaluation excluded; members train in
  lockstep and share it. **epoch alone**: one member's epoch timed on its own, after the
  first epoch, so each function's cost shows.
- **diverged**: the member's loss became NaN or infinite; it is frozen and the others go on.
- **saturated**: a unit on a sample whose activation slope is below 1% of the function's
  steepest slope, so almost no gradient passes through it.
- **dead unit**: a unit whose slope is zero on every sample of the probe batch, so it has
  stopped learning.

## Keys

- `ctrl+s` start (or restart) a run with the settings shown; `ctrl+t` pause or resume;
  `ctrl+g` stop and keep the results; `ctrl+n` reset results and settings.
- `ctrl+p` command palette (every action, and the theme); type a member spec there, such as
  `leaky_relu(0.02)`, `prelu` or `./acts.py:fn`, to add it; `ctrl+q` quit.
- `tab` moves between panels; in the activation list, `space` toggles a member.
"""


class HelpScreen(ModalScreen[None]):
    """Help over the lab; any of escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 100;
            max-width: 100%;
            height: 90%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help", key_display="esc"),
    ]

    def compose(self) -> ComposeResult:
        # One Static holding Rich's rendering: Textual's Markdown widget would build a child
        # widget per block, too slow for a key press to open.
        with VerticalScroll():
            yield Static(Markdown(HELP), id="help-text")
        yield KeyFooter()
