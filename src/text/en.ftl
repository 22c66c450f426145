# What the box's commands say to the commune's operator.
# Plain words: no field names, no units of the sound trade. Times are HH:MM, days dd/mm/yyyy.

error = error: { $reason }
cli-unknown-command = there is no command “{ $name }”
cli-unknown-option = this command has no option “{ $arg }”
cli-unexpected-word = “{ $arg }{ $value }” is one word too many for this command
cli-missing-value = { $arg } needs a value right after it
cli-value-not-among = “{ $value }” cannot be used for { $arg }; choose one of: { $valid }
cli-bad-value = “{ $value }” cannot be used for { $arg }
cli-conflict = { $arg } cannot be used with { $prior }
cli-missing-argument = missing: { $arg }
cli-missing-command = a command is needed: { $valid }
cli-not-utf8 = the command has characters that cannot be read (not UTF-8)
cli-mistyped = the command is not written correctly
cli-did-you-mean = Did you mean “{ $suggestion }”?
cli-more = For help, add --help at the end of the command.
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
refusal-nothing-on-air = nothing is on air right now.
refusal-no-such-programme = there is no programme “{ $id }” on the box (see: loaxa program list).
refusal-in-schedule-file = “{ $id }” is a programme of the schedule file { $file }: to change it, edit that file (then check it with: loaxa validate).
refusal-from-the-office = “{ $id }” is a programme of the schedule the office sent ({ $scope }): only the office can change it; to silence it now, use: loaxa stop.
refusal-id-taken = a scheduled programme already has the id “{ $id }”; choose another with --id.
refusal-outside-windows = now ({ $time }) is outside the broadcast hours ({ $windows }); only an emergency airs then (--priority emergency).
refusal-not-aired = it could not air: { $reasons }.
refusal-permission = user { $uid } may not steer the box; they must be in the { $group } group (sudo adduser NAME { $group }, then log in again).
refusal-busy = the box is busy answering many requests; try again in a few seconds.
refusal-malformed = the box daemon does not understand this request ({ $detail }): this loaxa command and the daemon may be different versions (after an upgrade, restart it: sudo systemctl restart loaxa)
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
program-column-title = Title
program-column-airs = Airs
program-column-when = When
when-daily = { $time } every day
when-cron = by the cron line { $cron }
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
demo-where = Run `loaxa demo` in the loaxa source folder: it needs schedules/ and audio/ (this is { $dir }).
demo-no-sound-card = No sound card here; the broadcast goes to { $wav } instead.
demo-box = Demo box in { $dir }: the demo programme airs at { $start } ({ $zone }).
demo-audio-written = Audio written to { $wav } (timeline: { $timeline }).
demo-as-run = As-run log:

# The one-line summaries of `loaxa --help` and `loaxa COMMAND --help`.
help-loaxa = The commune loudspeaker box: airs its schedule on time, offline
help-daemon = Run the box daemon: air the schedules at their times (SIGTERM stops, SIGHUP reloads)
help-demo = Air a demo programme a few seconds from now, with the bundled schedules/ and audio/
help-validate = Check schedule files (by default the box's schedules directory): print each problem with file, line and field
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
arg-path = The box's configuration file (default /etc/loaxa/loaxa.toml; none there means every default)
arg-daemon-output = Override the config's audio output: default, null, wav:PATH or a device name
arg-demo-output = Audio output (default: the sound card, or a WAV file if there is none)
arg-demo-keep_running = Keep running after the demo programme (Ctrl-C stops)
arg-validate-files = Schedule files or directories of them (default: the box config's schedules directory)
arg-validate-config = Take the time zone, media directory and language from this box config
arg-validate-verbose = Also show each audio file's loudness and the gain it airs with
arg-next-files = Schedule files (default: ask the running daemon, else the config's schedules directory)
arg-next-from = Start from this day or time instead of now (03/12/2026, "03/12/2026 17:30", 17h30, or 2026-12-03T07:00:00+07:00)
arg-next-count = How many airings to show (default 10)
arg-play-files = Audio files to play as a test, or chime
arg-play-output = Audio output: default, null, wav:PATH or a device name
arg-play-volume = Volume, 0.0 to 1.0 (default 1.0)
arg-log-since = Only entries scheduled on or after this day: 02/12/2026, 2026-12-02, or a month (12/2026, 2026-12)
arg-log-until = Only entries scheduled on or before this day (or month), written as for --since
arg-log-json = One JSON object per line, for scripts
arg-volume-level = The new volume, 0 to 100 (60 or 60%); leave out to see the volume now
arg-play-now-item = An audio file, or bulletin:ID for a bulletin
arg-play-now-priority = The level it airs at: normal (the default), priority, or emergency (only where the config allows)
arg-add-file = The audio file to air
arg-add-at = When it airs once: 17:30 (the next 17:30), 17h30 05/12/2026, 2026-12-05 17:30 (repeat --at for several)
arg-add-cron = When it repeats, crontab syntax, e.g. "30 17 * * 1-5" (17:30 Monday to Friday)
arg-add-id = Its name in lists and commands (default: the file name)
arg-add-title = What people call it (default: its id)
arg-add-priority = The level it airs at: normal (the default), priority, or emergency (only where the config allows)
arg-add-replace = Replace the programme of the same id, if there is one
arg-remove-id = The programme's id (as program list shows it)
arg-enable-id = The programme's id (as program list shows it)
arg-disable-id = The programme's id (as program list shows it)
arg-rest = The arguments of a command that moved to loaxa-district
help-version = Show the version
value-command = COMMAND
help-moved = The office's commands live in their own tool, loaxa-district, which the box does not carry: this says where it went
help-help = Show this help
help-options = Options
help-arguments = Arguments
help-commands = Commands
value-path = FILE
value-config = FILE
value-file = FILE
value-files = FILES
value-output = OUTPUT
value-from = TIME
value-count = COUNT
value-volume = VOLUME
value-since = DAY
value-until = DAY
value-level = LEVEL
value-item = ITEM
value-priority = LEVEL
value-at = TIME
value-cron = CRON
value-id = ID
value-title = TITLE
value-rest = ARGS

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

# A schedule's problems (`validate`, `program add`): where, then what.
where-file-line = { $file }, line { $line }
field-timezone = the time zone (timezone)
field-programme = programme “{ $programme }”
field-programme-key = programme “{ $programme }”, { $key }
field-programme-member = programme “{ $programme }”, { $key } no. { $n }
field-unnamed = programme no. { $n } of the file
field-unnamed-key = programme no. { $n } of the file, { $key }
field-exception = exception no. { $n }
field-exception-key = exception no. { $n }, { $key }
field-exception-member = exception no. { $n }, { $key } no. { $m }
toml-unknown-key = there is no key “{ $key }” here (misspelt?); the keys are: { $known }
toml-unknown-key-none = there is no key “{ $key }” here (misspelt?)
toml-missing-key = “{ $key }” is missing
toml-wrong-kind = “{ $key }” must be { $expected }, not { $found }: { $written }
toml-wrong-kind-unkeyed = this must be { $expected }, not { $found }: { $written }
toml-unknown-choice = “{ $key }” takes { $choices }, not “{ $value }”
toml-duplicate-key = “{ $key }” is written twice
toml-duplicate-key-unnamed = a key is written twice
toml-bad-text = a quoted text is written wrongly or not closed
toml-unquoted-text = a text value must be in quotes, like id = "tin-sang"
toml-missing-equals = an = is missing between the key and its value, like title = "Morning news"
toml-bad-header = a table header is written wrongly; write [[program]] or [[exception]]
toml-bad-list = a list is written wrongly: inside [ ], parts separated by commas, like ["a.mp3", "b.mp3"]
toml-bad-boolean = only true or false can be written here
toml-bad-number = a number is written wrongly; write it like 30 or 0.8
toml-bad-date-time = a date or time is written wrongly
toml-other = not written correctly
toml-as-written = { $problem } (the line reads: { $written })
toml-kind-text = a text in quotes
toml-kind-whole-number = a whole number
toml-kind-number = a number
toml-kind-boolean = true or false
toml-kind-list = a list in [ ]
toml-kind-table = a table
toml-kind-date-time = a date-time without quotes
toml-kind-unnamed = another kind of value
fault-cannot-read = the file cannot be read: { $error }
fault-cannot-read-directory = the schedules folder cannot be read: { $error }
fault-unknown-timezone = unknown time zone “{ $name }” (write it like Asia/Ho_Chi_Minh)
fault-id-twice = this programme id is used twice in the file
fault-id-used-in = this programme id is already used in { $file }
fault-bad-id = “{ $id }” cannot be an id: use letters without marks, digits and - _ . (at most 64), like tin-sang
fault-missing-id = the programme has no id
fault-volume = volume { $value } is out of range: give 0.0 to 1.0
fault-when-busy = “{ $text }” is not understood: write "cut" (cut into what is on air), "next" (wait its turn) or "wait N" (wait at most N minutes, 1–1440)
fault-local-emergency = only the office may schedule an emergency; to allow one on the box, its configuration needs emergency = true under [local]
fault-until-before-from = it ends ({ $until }) before it starts ({ $from })
fault-no-times = no times are given
fault-not-a-local-time = “{ $text }” is not a time to air; write it like 2026-11-25T07:00:00
fault-cron-and-at = it has both cron and at; use one
fault-neither-cron-nor-at = it has no time: give cron (repeating) or at (one-off times)
fault-outside-windows = it airs at { $time }, outside the broadcast hours ({ $windows }); only an emergency airs then
fault-only-for-relay = only for a relay (relay = "http://…")
fault-missing-items = nothing to air is given (items, or relay for a relay)
fault-nothing-to-air = the list of things to air is empty
fault-relay-and-items = it has both relay and items; use one (what airs if the stream fails goes in fallback)
fault-bad-relay-url = the stream address “{ $url }” cannot be used: { $reason }
fault-relay-minutes = { $value } minutes is out of range: more than 0 and at most 720 (12 hours)
fault-relay-minutes-required = a relay needs its length (duration_minutes, in minutes)
fault-skip-and-only = it has both skip and only; use one
fault-neither-skip-nor-only = it needs skip (the programmes that do not air) or only (the ones that do)
fault-no-such-programme = the file has no programme “{ $id }”
fault-not-a-date = “{ $text }” is not a date; write it like 2026-12-31
fault-loading-crashed = reading the schedules failed part way
fault-never-fires = the cron line “{ $expr }” never comes: no month it names has that day
fault-all-times-past = every time has passed (the last was { $last }); it will not air
fault-no-times-will-not-air = no times are given; it will not air
fault-valid-until-past = it ended on { $until }; it will not air again
fault-nothing-due = nothing is due in the next eight years; it will not air
item-bad-bulletin-id = “{ $id }” is not a valid bulletin id
item-bad-path = “{ $name }” is not an audio file path (empty, or climbing out with `..`)
item-absolute-path = “{ $name }” is an absolute path; { $rule } (the media folder: { $dir })
item-no-such-file = there is no audio file { $path }
item-outside-media = { $why }; { $rule }
item-audio = the file cannot be aired: { $error }
rule-district-files = a schedule from the office may only name files in the media folder
rule-local-files = a schedule on the box may only name files in the media folder, unless the configuration sets files_anywhere = true under [local]
cron-second = second
cron-minute = minute
cron-hour = hour
cron-day-of-month = day
cron-month = month
cron-day-of-week = weekday
cron-field-count = a cron line has 5 parts (minute hour day month weekday); this one has { $found }
cron-year-field = the cron line has 7 parts; a year at the end is Quartz, cron takes 5 (minute hour day month weekday)
cron-reboot = @reboot means nothing for a broadcast; give a time such as @daily or `0 6 * * *`
cron-unknown-macro = `{ $name }` is not known; use @yearly, @monthly, @weekly, @daily, @midnight or @hourly
cron-text-after-macro = `{ $extra }` follows { $name }, which stands alone
cron-quartz = { $field } `{ $token }` is Quartz, which cron does not understand
cron-empty-item = { $field } has an empty item in `{ $token }`
cron-invalid-item = { $field } `{ $token }` is not a number, range or step
cron-not-a-number = { $field } “{ $token }” is not a number
cron-out-of-range = { $field } { $token } is out of range: a { $field } is { $min } to { $max }
cron-backwards = the { $field } range { $token } runs backwards
cron-step-not-a-number = the { $field } step “{ $token }” is not a number
cron-step-out-of-range = the { $field } step { $token } is out of range: 1 to { $max }

## Why a file cannot be read or aired
trouble-file-missing = there is no such file or folder
trouble-file-not-allowed = the box may not read it (check the file's permissions)
trouble-file-wrong-kind = a folder where a file was expected, or the reverse
trouble-file-not-text = not UTF-8 text (save the file as UTF-8)
trouble-file-other = the system says: { $error }
trouble-audio-cannot-open = the file cannot be opened: { $why }
trouble-audio-cannot-read = reading the file failed part-way: { $why }
trouble-audio-empty = the file is empty
trouble-audio-unrecognised = not an audio file the box can read (use MP3, M4A, FLAC, OGG or WAV)
trouble-audio-no-audio-track = the file has no sound in a form the box reads (MP3, AAC, FLAC, Vorbis, PCM)
trouble-audio-no-audio = the file holds no sound at all
trouble-audio-corrupt = the file is broken from { $at } on (copy or export it again)
trouble-audio-convert = the sound cannot be converted for the loudspeakers
trouble-audio-outside = the file now points outside the audio folder, so it is not aired
trouble-audio-bulletin-not-held = the box does not hold all of bulletin { $bulletin }
trouble-audio-relay-failed = the relay could not be received; nothing aired in its slot
trouble-audio-relay-failed-fallback = the relay could not be received; its fallback aired instead

## The daemon out of reach, a config that cannot be read
config-invalid = { $file }, setting “{ $key }”: { $problem }
config-setting-nth = { $key } no. { $n }
config-bad-output = “{ $spec }” is not an audio output: use default, null, wav:PATH or a device's name (see loaxa devices)
config-out-of-range = { $value } is outside the allowed range, { $low } to { $high }
config-bad-key = the trusted key cannot be read ({ $reason }): copy the key line of the office's public key (.pub file), or give the path of that .pub file
config-window-not-a-time = { $field } = “{ $text }” is not a time of day; write it like "05:30"
config-window-empty = the window starts and ends at { $at }: it is empty
config-window-bad-volume = volume { $volume } must be from 0.0 to 1.0
config-bad-language = “{ $value }” is not "vi" (Vietnamese) or "en" (English)
config-too-large = the number is too large
config-cannot-read = the configuration file { $file } cannot be read: { $why }
control-not-running = The box daemon (loaxa daemon) is not running: nothing answers at { $socket }. Start it with: sudo systemctl start loaxa
control-not-allowed = This account may not steer the box ({ $socket }). Add it to the loaxa group (sudo adduser NAME loaxa) and log in again.
control-cannot-connect = Cannot reach the box daemon at { $socket }: { $why }
control-no-answer = The box daemon did not answer within { $seconds } s (it may be stuck: see its log with journalctl -u loaxa).
control-closed = The box daemon ({ $socket }) closed the connection without a reply; try again in a few minutes.
control-exchange = The exchange with the box daemon ({ $socket }) broke off: { $why }
control-unreadable-reply = The box daemon's reply ({ $socket }) cannot be read ({ $detail }): this loaxa command and the daemon may be different versions.
control-cannot-open = The control socket { $socket } cannot be opened: { $why }
output-no-devices = the box finds no audio device at all ({ $detail })
output-no-such-device = there is no audio device named “{ $name }” (see the devices' names with: loaxa devices)
output-device-failed = the audio device “{ $name }” cannot be used ({ $detail })
output-wav-failed = the WAV file { $file } cannot be written: { $why }
output-failed = the audio output failed ({ $detail })
output-stopped = the audio output has stopped

## A programme aired by play-now, not by a schedule
programme-played-now = played now
