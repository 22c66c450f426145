# What the box's commands say to the commune's operator.
# Plain words: no field names, no units of the sound trade. Times are HH:MM, days dd/mm/yyyy.

error = error: { $reason }
warning = warning: { $warning }
moved = `loaxa { $command }` is now `loaxa-district { $command }`, the district office's tool (package loaxa-district); the box does not carry it.

day = { $weekday } { $date }
moment = { $time } { $day }
weekday-mon = Monday
weekday-tue = Tuesday
weekday-wed = Wednesday
weekday-thu = Thursday
weekday-fri = Friday
weekday-sat = Saturday
weekday-sun = Sunday

when-not-a-time = “{ $text }” is not a time. Write times like 17:30, 17h30 or 7h (00:00 to 23:59).
when-not-a-date = “{ $text }” is not a date. Write dates like 02/12/2026 or 2026-12-02.
when-not-a-moment = “{ $text }” is not a time, or a time and a date. Write 17:30, or 17:30 02/12/2026.
when-past = { $when } has passed (it is now { $now }); choose a time ahead.

level-normal = normal level
level-priority = priority level
level-emergency = emergency level

origin-district = sent by the office
origin-commune = the commune's schedule
origin-box = sent for this box alone
origin-local = set on this box
origin-operator = played from this box

outcome-airing = on air
outcome-aired = aired
outcome-missed = missed
outcome-failed = failed
outcome-interrupted = interrupted

daemon-refused = the box did not do it: { $reason }
daemon-mismatched = the box's daemon answered another question (a different version? restart it: sudo systemctl restart loaxa): { $answer }
daemon-mismatched-next = the box's daemon answered another question (a different version? restart it: sudo systemctl restart loaxa).
file-missing = { $file }: no such file.

status-box = Box { $box }
status-link = Link to the office
status-volume = Volume
status-windows = Broadcast hours
status-disk = Free storage
status-disk-unknown = unknown
status-disk-gb = { $gb } GB
status-on-air = On air
status-cut = (cut, resumes afterwards: { $programme })
status-next = Coming up
status-problems = Recent problems
status-nothing = nothing
status-none = none
link-none = none (the box runs alone, on its own schedules)
link-connected = connected
link-disconnected = lost (retrying)
upcoming = { $when }  { $what }  [{ $origin }]

today-nothing-yet = Nothing aired yet today.
today-nothing-more = Nothing more today.
today-still-to-come = Still to come today:

next-nothing = Nothing is due to air.
next-daemon-down = The box's daemon is not running: below are only the schedule files on this box, without what the office sent or the programmes set on the box.
next-skipped = skipped: { $problem }

stop-done = Stopping the programme on air.
volume-bad = “{ $text }” is not a volume: give a number from 0 to 100, such as 60 or 60%.
volume-set = Volume set to { $percent }%.
volume-now = { $by ->
    [district] The volume is { $percent }%, set by the office.
    [operator] The volume is { $percent }%, set on this box.
   *[default] The volume is { $percent }%: nobody has changed it.
}
play-now-on-air = On air now: { $item } ({ $level }).
play-now-queued = Queued: { $item } ({ $level }) airs once the programme on air ends.

program-exists = There is already a programme “{ $id }”. Add --replace to replace it, or give another id with --id.
program-added = Added the programme “{ $title }” ({ $id }): it airs at { $when }.
program-added-never = Added the programme “{ $title }” ({ $id }), but it has no time ahead.
program-same-minute = warning: { $other } is due in the same minute; the later one waits for the first to end.
program-none = No programmes are set on this box.
program-column-id = Id
program-column-state = State
program-column-next = Next airing
program-enabled = enabled
program-disabled = disabled
program-removed = Removed the programme { $id }.
program-enable-done = Enabled the programme { $id }.
program-disable-done = Disabled the programme { $id } (it is kept; enable it again with: loaxa program enable { $id }).

log-none-yet = No as-run log yet in { $dir }.
log-empty = Nothing was scheduled in that span.
log-column-scheduled = Scheduled
log-column-programme = Programme
log-column-started = Started
log-column-ended = Ended
log-column-result = Result
log-column-detail = Detail
log-attempt = { $outcome } (try { $attempt })

validate-ok = { $file }: ok ({ $count ->
    [one] 1 programme
   *[other] { $count } programmes
})
validate-problems = { $count ->
    [one] 1 problem found
   *[other] { $count } problems found
}
validate-no-files = No schedule files (.toml) in { $where }.

play-bad-volume = volume { $volume } is out of range: give 0.0 to 1.0.
play-to = playing to { $output }
play-player-stopped = the player stopped unexpectedly.
play-item-failed = { $item }: not played: { $reason }
play-nothing = nothing could be played.
output-unavailable = cannot open the audio output { $output }: { $reason }
devices-none = no audio output devices (use --output wav:PATH or null)
demo-as-run = As-run log:

# The one-line summaries of `loaxa --help` and `loaxa COMMAND --help`.
help-loaxa = The commune loudspeaker box: airs its schedule on time, offline
help-daemon = Run the box daemon: air the schedules at their times (SIGTERM stops, SIGHUP reloads)
help-demo = Air a demo programme a few seconds from now, with the bundled schedules/ and audio/
help-validate = Check schedule files: print each problem with file, line and field
help-next = What will air next: the office's schedules, the commune's and the box's own programmes
help-play = Play files now (or chime), to test the loudspeakers, without the daemon
help-log = The as-run log: what aired, was missed or failed, and when
help-devices = List the audio output devices
help-status = What is on air, what comes next, the link, the disk, recent problems
help-today = Today: what aired, what was missed and why, what is still to come
help-stop = Fade out and end the programme on air
help-volume = Show the volume, or set it from 0 to 100 (60 or 60%)
help-play-now = Air a file or a bulletin now (after the chime), through the cut-in rules
help-program = The programmes set on this box
help-program-add = Add a programme airing FILE at set times (--at or --cron)
help-program-list = The programmes set on this box, with their next airing
help-program-remove = Delete a programme set on this box
help-program-enable = Let a disabled programme air again
help-program-disable = Keep a programme but stop it from airing
help-usage = Usage

# Why a programme aired late, was missed, failed or was cut: `today`, `log`, `status`.
span-seconds = { $seconds } s
span-minutes = { $minutes } min
span-minutes-seconds = { $minutes } min { $seconds } s
reason-late = late by { $span }
reason-waited-for-the-air = late by { $span }: it waited for the programme before it
reason-retried = aired again from the start ({ $span } late) after it was cut off
reason-past-catch-up = its time passed more than { $span } ago (the box was off or busy)
reason-superseded = the { $time } airing of the same programme was due too, and aired instead
reason-outside-windows = { $time } is outside the broadcast hours ({ $windows }); only an emergency airs then
reason-waited-in-vain = the air stayed taken for the { $span } it may wait
reason-clock-jumped = the box's clock jumped forward over its time, from { $from } to { $to }
reason-content-missing = missing: { $list }
reason-item-failed = { $item } could not be aired ({ $error })
reason-shutdown = stopped because the box's broadcast program was shut down
reason-stopped-by-operator = stopped on this box
reason-stopped-by-district = stopped by the office
reason-cut-by = cut off by { $programme } and not resumed
reason-output-failed = the sound card failed ({ $error })
reason-nothing-aired = nothing could be aired
reason-power-cut = the box stopped during the broadcast (power cut or crash)
missing-not-held = bulletin { $bulletin } has not reached this box
missing-expired = bulletin { $bulletin } expired at { $at }
missing-deleted-unused = bulletin { $bulletin } was deleted from this box, unused
missing-not-arrived = bulletin { $bulletin } is still arriving ({ $held } of { $chunks } parts)
missing-file-gone = the file { $file } is no longer on the box
problem-programme = { $programme }: { $outcome }, { $reasons }
problem-programme-bare = { $programme }: { $outcome }
problem-not-saved = could not write to the box's storage (full?): { $error }
problem-clock-back = the box's clock was set back by { $span }
problem-clock-forward = the box's clock was set forward by { $span }
