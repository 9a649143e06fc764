"""The top line of every screen: the numbered screens, the mask state, the deadlines that need
attention, the deployment in use, background work."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widget import Widget

SECTIONS: tuple[tuple[str, str], ...] = (
    ("requests", "Requests"),
    ("review", "Review"),
    ("runs", "Runs"),
    ("audit", "Audit"),
    ("probe", "Probe"),
    ("reports", "Reports"),
)


class NavBar(Widget):
    """Shows which numbered screen is current and what runs in the background."""

    DEFAULT_CSS = """
    NavBar { height: 1; dock: top; background: $panel; }
    """

    def __init__(self, section: str) -> None:
        super().__init__()
        self.section = section

    def on_mount(self) -> None:
        self.watch(self.app, "status_tick", lambda _: self.refresh(), init=False)
        self.watch(self.app, "reveal", lambda _: self.refresh(), init=False)

    def render(self) -> Table:
        left = Text()
        for i, (mode, label) in enumerate(SECTIONS, start=1):
            if i > 1:
                left.append(" ")
            left.append(f"{i} {label}", style="reverse bold" if mode == self.section else "")
        if getattr(self.app, "reveal", False):
            mask = Text(" REVEALED ", style="bold black on #ffb000")
        else:
            mask = Text(" masked ", style="dim")
        top = getattr(self.app, "top", None)
        badge = Text()
        if top is not None and top.overdue:
            badge.append(f" {top.overdue} late", style="bold red")
        elif top is not None and top.due_soon:
            badge.append(f" {top.due_soon} due", style="bold #ffb000")
        deployment = Text()
        if top is not None and top.deployment:
            deployment = Text(top.deployment,
                              style="green" if top.deployment_known else "bold red")
        right = Text(" ")  # never flush against the sections
        room = self.size.width - left.cell_len - mask.cell_len - badge.cell_len - 2
        # the mask state and the deadlines always show; background work next (the Runs
        # screen always names the deployment), then the deployment in use in what is left
        status = getattr(self.app, "activity_line", lambda: "")()
        if status and room >= 4:
            status = Text(status, style="cyan")
            status.truncate(room, overflow="ellipsis")
            right.append_text(status)
            right.append(" ")
            room -= status.cell_len + 1
        if deployment.cell_len and room >= 6:
            deployment.truncate(room, overflow="ellipsis")
            right.append_text(deployment)
        right.append_text(badge)
        right.append(" ")
        right.append_text(mask)
        grid = Table.grid(expand=True)
        grid.add_column(no_wrap=True, min_width=left.cell_len)  # the sections never shrink
        grid.add_column(justify="right", no_wrap=True, overflow="ellipsis")
        grid.add_row(left, right)
        return grid
