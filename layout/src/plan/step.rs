//! A step of a plan, and the builder the stages make them with:
//! `Step::new(id, what).argv([..]).writes([..])`.

use std::path::PathBuf;

/// Standard input of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Shown in the plan.
    Text(String),
    /// The first line of this file, read when the step runs; never shown,
    /// never on a command line.
    Secret(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Stable identifier, used to skip steps already done on a re-run.
    pub id: String,
    pub what: String,
    pub argv: Vec<String>,
    pub input: Option<Input>,
    /// Devices this step writes (or holds open for writing).
    pub writes: Vec<String>,
    /// Devices this step brings into existence.
    pub creates: Vec<String>,
}

impl Step {
    /// A step that runs nothing yet, writes nothing and creates nothing.
    pub fn new(id: impl Into<String>, what: impl Into<String>) -> Step {
        Step {
            id: id.into(),
            what: what.into(),
            argv: Vec::new(),
            input: None,
            writes: Vec::new(),
            creates: Vec::new(),
        }
    }

    /// The command it runs.
    pub fn argv<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Step {
        self.argv = argv.into_iter().map(Into::into).collect();
        self
    }

    /// What the command reads on standard input.
    pub fn input(mut self, input: Input) -> Step {
        self.input = Some(input);
        self
    }

    /// The devices it writes or holds open for writing.
    pub fn writes<S: Into<String>>(mut self, devices: impl IntoIterator<Item = S>) -> Step {
        self.writes = devices.into_iter().map(Into::into).collect();
        self
    }

    /// The devices it brings into existence.
    pub fn creates<S: Into<String>>(mut self, devices: impl IntoIterator<Item = S>) -> Step {
        self.creates = devices.into_iter().map(Into::into).collect();
        self
    }
}
