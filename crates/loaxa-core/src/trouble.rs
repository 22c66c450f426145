//! Why a file could not be read or aired, as kinds rather than prose. The decoder and the file
//! system explain themselves in English sentences; an operator reading Vietnamese needs to know
//! which of a handful of things went wrong (no such file, not allowed, not audio, broken at
//! 1:23) to act on it. These types carry that, so each program's message catalogue can say it;
//! their `Display` is the English the journal and the district keep.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a file (or folder) could not be opened or read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileTrouble {
    /// Nothing by that name.
    Missing,
    /// The box's user may not read it.
    NotAllowed,
    /// A folder where a file was expected, or a file where a folder was.
    WrongKind,
    /// Not text in UTF-8 (a schedule saved in another encoding, or not a text file at all).
    NotText,
    /// Anything else, in the operating system's words.
    Other { error: String },
}

impl From<&std::io::Error> for FileTrouble {
    fn from(error: &std::io::Error) -> FileTrouble {
        use std::io::ErrorKind;
        match error.kind() {
            ErrorKind::NotFound => FileTrouble::Missing,
            ErrorKind::PermissionDenied => FileTrouble::NotAllowed,
            ErrorKind::IsADirectory | ErrorKind::NotADirectory => FileTrouble::WrongKind,
            _ => FileTrouble::Other {
                error: error.to_string(),
            },
        }
    }
}

impl FileTrouble {
    /// Why a file could not be read as text: there, and only there, invalid data means the
    /// bytes are not UTF-8 (elsewhere it is whatever the reader says it is).
    pub fn reading_text(error: &std::io::Error) -> FileTrouble {
        match error.kind() {
            std::io::ErrorKind::InvalidData => FileTrouble::NotText,
            _ => error.into(),
        }
    }
}

impl fmt::Display for FileTrouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileTrouble::Missing => f.write_str("no such file or directory"),
            FileTrouble::NotAllowed => f.write_str("permission denied"),
            FileTrouble::WrongKind => {
                f.write_str("a directory where a file was expected, or the reverse")
            }
            FileTrouble::NotText => f.write_str("not UTF-8 text"),
            FileTrouble::Other { error } => f.write_str(error),
        }
    }
}

/// Why one audio item could not be aired (or would not be, when a schedule is checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AudioTrouble {
    CannotOpen {
        file: FileTrouble,
    },
    /// Opened, then reading failed part-way (a failing SD card, a file cut short on the disk).
    CannotRead {
        file: FileTrouble,
    },
    Empty,
    /// No audio format the box knows: a document renamed `.mp3`, a video, random bytes.
    Unrecognised,
    /// A container the box knows, with no track in a codec it decodes.
    NoAudioTrack,
    /// A valid file without a single sample of sound.
    NoAudio,
    /// The audio breaks at `at_ms` into the file; `error` is the decoder's own word.
    Corrupt {
        at_ms: u64,
        error: String,
    },
    /// Decoded, but the resampler or channel mixer refused it.
    Convert {
        error: String,
    },
    /// Refused when it was about to air: a link under the media folder now leads outside it.
    Outside {
        why: String,
    },
    /// A bulletin the box does not hold whole and valid.
    BulletinNotHeld {
        bulletin: String,
    },
    /// A relay that relayed nothing; whether its fallback aired instead.
    RelayFailed {
        error: String,
        fallback_aired: bool,
    },
}

impl fmt::Display for AudioTrouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioTrouble::CannotOpen { file } => write!(f, "cannot open: {file}"),
            AudioTrouble::CannotRead { file } => write!(f, "read error: {file}"),
            AudioTrouble::Empty => f.write_str("file is empty"),
            AudioTrouble::Unrecognised => {
                f.write_str("not a recognised audio format (mp3, aac/m4a, flac, ogg vorbis, wav)")
            }
            AudioTrouble::NoAudioTrack => {
                f.write_str("no audio track in a supported codec (mp3, aac, flac, vorbis, pcm)")
            }
            AudioTrouble::NoAudio => f.write_str("contains no audio"),
            AudioTrouble::Corrupt { at_ms, error } => {
                write!(f, "corrupt audio data at {}: {error}", Position(*at_ms))
            }
            AudioTrouble::Convert { error } => {
                write!(f, "cannot convert to the output format: {error}")
            }
            AudioTrouble::Outside { why } => write!(f, "refused at air time: {why}"),
            AudioTrouble::BulletinNotHeld { bulletin } => write!(
                f,
                "content missing: bulletin {bulletin} is not held whole and valid"
            ),
            AudioTrouble::RelayFailed {
                error,
                fallback_aired,
            } => match fallback_aired {
                true => write!(f, "{error}; aired the fallback"),
                false => write!(f, "{error}; nothing was relayed"),
            },
        }
    }
}

/// A position in a recording as `m:ss.t`, the way people read a player's clock.
pub struct Position(pub u64);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = self.0 / 100;
        let (minutes, seconds) = (tenths / 600, tenths / 10 % 60);
        write!(f, "{minutes}:{seconds:02}.{}", tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operating_systems_errors_fall_into_the_kinds_an_operator_can_act_on() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(FileTrouble::from(&missing), FileTrouble::Missing);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(FileTrouble::from(&denied), FileTrouble::NotAllowed);
        let garbled = std::io::Error::from(std::io::ErrorKind::InvalidData);
        assert_eq!(FileTrouble::reading_text(&garbled), FileTrouble::NotText);
        assert!(matches!(
            FileTrouble::from(&garbled),
            FileTrouble::Other { .. }
        ));
        let odd = std::io::Error::other("disk on fire");
        assert_eq!(
            FileTrouble::from(&odd),
            FileTrouble::Other {
                error: "disk on fire".into()
            }
        );
    }

    #[test]
    fn a_break_in_the_audio_is_placed_on_the_players_clock() {
        let trouble = AudioTrouble::Corrupt {
            at_ms: 83_450,
            error: "bad frame".into(),
        };
        assert_eq!(
            trouble.to_string(),
            "corrupt audio data at 1:23.4: bad frame"
        );
    }

    #[test]
    fn troubles_keep_their_codes_in_json() {
        let trouble = AudioTrouble::CannotOpen {
            file: FileTrouble::Missing,
        };
        let json = serde_json::to_value(&trouble).unwrap();
        assert_eq!(json["code"], "cannot_open");
        assert_eq!(json["file"]["kind"], "missing");
        let back: AudioTrouble = serde_json::from_value(json).unwrap();
        assert_eq!(back, trouble);
    }
}
