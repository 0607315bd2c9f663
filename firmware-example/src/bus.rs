//! A blocking SPI bus behind `embedded-hal`'s `SpiBus`: the workload's blocking operations.
//!
//! QEMU's boards have no SPI peripheral worth driving, so this bus loops MOSI back to MISO and
//! takes the time a real bus would (a fixed number of clock ticks per byte), busy-waiting like a
//! polled HAL driver. On a board, any HAL's `SpiBus` drops in instead.

use embedded_hal::spi::{ErrorKind, ErrorType, SpiBus};

pub struct LoopbackSpi {
    pub ticks_per_byte: u32,
}

#[derive(Debug)]
pub struct Never;

impl embedded_hal::spi::Error for Never {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

impl ErrorType for LoopbackSpi {
    type Error = Never;
}

impl SpiBus<u8> for LoopbackSpi {
    fn read(&mut self, words: &mut [u8]) -> Result<(), Never> {
        words.fill(0xff);
        self.clock_out(words.len());
        Ok(())
    }

    fn write(&mut self, words: &[u8]) -> Result<(), Never> {
        self.clock_out(words.len());
        Ok(())
    }

    fn transfer(&mut self, read: &mut [u8], write: &[u8]) -> Result<(), Never> {
        for (i, r) in read.iter_mut().enumerate() {
            *r = write.get(i).copied().unwrap_or(0xff);
        }
        self.clock_out(read.len().max(write.len()));
        Ok(())
    }

    fn transfer_in_place(&mut self, words: &mut [u8]) -> Result<(), Never> {
        self.clock_out(words.len());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Never> {
        Ok(())
    }
}

impl LoopbackSpi {
    fn clock_out(&self, bytes: usize) {
        gotrace_cortex_m_clock::spin(self.ticks_per_byte.saturating_mul(bytes as u32));
    }
}
