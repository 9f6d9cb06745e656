//! ADC captures in WAV files, read frame by frame without loading the file.
//!
//! A capture holds raw ADC counts: 16-bit integer PCM is read as the integer value and
//! 32-bit float as the float value; both are "counts", scaled to volts and amps by the
//! meter's calibration. The channel count gives the layout: 2 is single phase (V, I),
//! 6 is three phase (V1, I1, V2, I2, V3, I3) and 7 adds the neutral current.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader};
use joule_metrology::Frame;

/// How a capture's channels map to the meter's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Two channels: voltage, current.
    SinglePhase,
    /// Six channels: V1, I1, V2, I2, V3, I3.
    ThreePhase,
    /// Seven channels: V1, I1, V2, I2, V3, I3, neutral current.
    ThreePhaseNeutral,
}

impl Layout {
    /// The layout a channel count stands for, if any.
    fn from_channels(channels: u16) -> Option<Self> {
        match channels {
            2 => Some(Self::SinglePhase),
            6 => Some(Self::ThreePhase),
            7 => Some(Self::ThreePhaseNeutral),
            _ => None,
        }
    }

    /// Number of phases (1 or 3).
    pub fn phases(self) -> usize {
        match self {
            Self::SinglePhase => 1,
            Self::ThreePhase | Self::ThreePhaseNeutral => 3,
        }
    }

    /// Whether the capture has a neutral-current channel.
    pub fn has_neutral(self) -> bool {
        self == Self::ThreePhaseNeutral
    }

    /// Number of channels in one frame.
    fn channels(self) -> usize {
        match self {
            Self::SinglePhase => 2,
            Self::ThreePhase => 6,
            Self::ThreePhaseNeutral => 7,
        }
    }
}

/// How the samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// 16-bit signed integer PCM.
    Int16,
    /// 32-bit IEEE float.
    Float32,
}

/// Why a capture cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file could not be opened.
    #[error("{}: cannot open", path.display())]
    Open {
        /// The capture.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a WAV file hound can parse.
    #[error("{}: not a readable WAV file", path.display())]
    NotWav {
        /// The capture.
        path: PathBuf,
        /// What the WAV parser said.
        #[source]
        source: hound::Error,
    },
    /// The channel count is not one of the supported layouts.
    #[error(
        "{}: has {channels} channel(s); expected 2 (V, I), 6 (V1, I1, V2, I2, V3, I3) \
         or 7 (three phases plus neutral current)",
        path.display()
    )]
    Channels {
        /// The capture.
        path: PathBuf,
        /// Channels the file has.
        channels: u16,
    },
    /// The samples are neither 16-bit integers nor 32-bit floats.
    #[error(
        "{}: samples are {bits}-bit {format}; expected 16-bit integer PCM or 32-bit float",
        path.display()
    )]
    Encoding {
        /// The capture.
        path: PathBuf,
        /// Bits per sample in the file.
        bits: u16,
        /// "integer PCM" or "float".
        format: &'static str,
    },
    /// The file holds no samples.
    #[error("{}: holds no samples", path.display())]
    Empty {
        /// The capture.
        path: PathBuf,
    },
    /// A sample could not be read (truncated or damaged data).
    #[error("{}: sample data unreadable after {frame} frames", path.display())]
    Read {
        /// The capture.
        path: PathBuf,
        /// Frames read successfully before the failure.
        frame: u64,
        /// What the WAV parser said.
        #[source]
        source: hound::Error,
    },
    /// A float sample is NaN or infinite.
    #[error("{}: sample {channel} of frame {frame} is not a finite number", path.display())]
    NonFinite {
        /// The capture.
        path: PathBuf,
        /// The frame (0-based).
        frame: u64,
        /// The channel (0-based).
        channel: usize,
    },
    /// The data ends part way through a frame.
    #[error("{}: data ends part way through frame {frame}", path.display())]
    PartialFrame {
        /// The capture.
        path: PathBuf,
        /// The frame (0-based) that is incomplete.
        frame: u64,
    },
}

/// Frames of raw counts from a WAV capture, streamed from disk.
///
/// Yields one [`Frame`] per sample instant: single-phase captures fill phase 0 only.
/// After the first error the source yields nothing more.
pub struct WavSource {
    path: PathBuf,
    reader: WavReader<BufReader<File>>,
    layout: Layout,
    encoding: Encoding,
    sample_rate_hz: f64,
    frames: u64,
    frames_read: u64,
    done: bool,
}

impl WavSource {
    /// Opens a capture and checks its layout and sample format.
    pub fn open(path: &Path) -> Result<Self, WavError> {
        let path = path.to_path_buf();
        let file = File::open(&path).map_err(|source| WavError::Open {
            path: path.clone(),
            source,
        })?;
        let reader = WavReader::new(BufReader::new(file)).map_err(|source| WavError::NotWav {
            path: path.clone(),
            source,
        })?;
        let spec = reader.spec();
        let Some(layout) = Layout::from_channels(spec.channels) else {
            return Err(WavError::Channels {
                path,
                channels: spec.channels,
            });
        };
        let encoding = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Int, 16) => Encoding::Int16,
            (SampleFormat::Float, 32) => Encoding::Float32,
            (format, bits) => {
                let format = match format {
                    SampleFormat::Int => "integer PCM",
                    SampleFormat::Float => "float",
                };
                return Err(WavError::Encoding { path, bits, format });
            }
        };
        let frames = u64::from(reader.duration());
        if frames == 0 {
            return Err(WavError::Empty { path });
        }
        Ok(Self {
            path,
            layout,
            encoding,
            sample_rate_hz: f64::from(spec.sample_rate),
            frames,
            frames_read: 0,
            done: false,
            reader,
        })
    }

    /// The capture's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The channel layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Frames per second.
    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// Frames the file declares.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Reads one sample as counts; `None` at the end of the data.
    fn next_sample(&mut self) -> Option<Result<f64, hound::Error>> {
        match self.encoding {
            Encoding::Int16 => self
                .reader
                .samples::<i16>()
                .next()
                .map(|sample| sample.map(f64::from)),
            Encoding::Float32 => self
                .reader
                .samples::<f32>()
                .next()
                .map(|sample| sample.map(f64::from)),
        }
    }

    /// Reads the next frame; `Ok(None)` at the end of the data.
    fn read_frame(&mut self) -> Result<Option<Frame>, WavError> {
        let mut values = [0.0_f64; 7];
        let channels = self.layout.channels();
        for (channel, value) in values[..channels].iter_mut().enumerate() {
            match self.next_sample() {
                Some(Ok(sample)) if sample.is_finite() => *value = sample,
                Some(Ok(_)) => {
                    return Err(WavError::NonFinite {
                        path: self.path.clone(),
                        frame: self.frames_read,
                        channel,
                    });
                }
                None if channel == 0 => return Ok(None),
                None => {
                    return Err(WavError::PartialFrame {
                        path: self.path.clone(),
                        frame: self.frames_read,
                    });
                }
                Some(Err(source)) => {
                    return Err(WavError::Read {
                        path: self.path.clone(),
                        frame: self.frames_read,
                        source,
                    });
                }
            }
        }
        self.frames_read += 1;
        let [v1, i1, v2, i2, v3, i3, neutral] = values;
        Ok(Some(match self.layout {
            Layout::SinglePhase => Frame {
                v: [v1, 0.0, 0.0],
                i: [i1, 0.0, 0.0],
                neutral: 0.0,
            },
            Layout::ThreePhase | Layout::ThreePhaseNeutral => Frame {
                v: [v1, v2, v3],
                i: [i1, i2, i3],
                neutral,
            },
        }))
    }
}

impl fmt::Debug for WavSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WavSource")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .field("encoding", &self.encoding)
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("frames", &self.frames)
            .field("frames_read", &self.frames_read)
            .finish_non_exhaustive()
    }
}

impl Iterator for WavSource {
    type Item = Result<Frame, WavError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.read_frame().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A valid two-channel int16 capture of `frames` frames, as bytes.
    fn valid_wav(frames: u32) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 4000,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("writer");
        for n in 0..frames * 2 {
            writer
                .write_sample((n as i16).wrapping_mul(37))
                .expect("sample");
        }
        writer.finalize().expect("finalize");
        bytes.into_inner()
    }

    /// Opens `bytes` as a capture and reads every frame; any outcome but a panic is fine.
    fn read_all(bytes: &[u8]) -> Result<u64, WavError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("capture.wav");
        std::fs::write(&path, bytes).expect("write capture");
        let source = WavSource::open(&path)?;
        let mut frames = 0;
        for frame in source {
            frame?;
            frames += 1;
        }
        Ok(frames)
    }

    #[test]
    fn a_valid_capture_reads_every_frame() {
        assert_eq!(read_all(&valid_wav(100)).expect("valid"), 100);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Damaged captures (bytes flipped, file cut short) give an error or fewer frames,
        /// never a panic.
        #[test]
        fn damaged_captures_never_panic(
            flips in prop::collection::vec((0usize..244, any::<u8>()), 0..8),
            cut in 0usize..244,
        ) {
            let mut bytes = valid_wav(50);
            for (at, value) in flips {
                bytes[at] = value;
            }
            bytes.truncate(cut.max(1));
            let _ = read_all(&bytes);
        }

        /// Arbitrary bytes are refused with an error.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_all(&bytes);
        }
    }
}
