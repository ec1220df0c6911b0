//! Reading fuzz bytes as structured input. Reads never fail: past the end they give
//! zeros and empty strings, so every byte string is a valid input.

pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n.max(1)
    }

    /// One line (without its `\n`), as text; invalid UTF-8 is replaced, not refused.
    pub fn line(&mut self) -> String {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        self.pos += end + 1;
        String::from_utf8_lossy(&rest[..end]).into_owned()
    }

    /// A line read as a number: decimal if it is one, else a hash of the text (so
    /// mutations still reach large and boundary values).
    pub fn number(&mut self) -> u64 {
        let text = self.line();
        text.trim().parse::<u64>().unwrap_or_else(|_| text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)))
    }

    pub fn signed(&mut self) -> i64 {
        let text = self.line();
        text.trim().parse::<i64>().unwrap_or_else(|_| text.bytes().fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(b as i64)))
    }
}
