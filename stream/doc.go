// Package stream is livesep's pipeline and its clock: sources and sinks
// (WAV files now, PortAudio devices in stream/device), the Processor
// contract every real-time stage follows, the block engine that moves audio
// source → ring → processor → ring → sink, the latency budget, and the
// per-run Report.
//
// # Glossary
//
//   - sample: one value of one channel.
//   - frame: one sample per channel (PortAudio's framesPerBuffer meaning).
//   - hop: the STFT advance, in frames.
//   - block: what one Process call sees.
//   - spectrum: one STFT column, indexed [channel][bin].
//
// # Real-time contract
//
// Prepare and NewEngine allocate everything. After that, Processor.Process,
// Separator.Separate and Engine.ProcessBlock do not allocate, block or take
// locks; they panic only on mismatched slice lengths (a programming error).
// Numerical trouble (NaN/Inf input, a singular demixing matrix) is repaired
// locally, counted, and reported later by Err — never returned per block.
//
// # Concurrency
//
// A Processor is driven by one goroutine. The Engine's input and output rings
// are single-producer/single-consumer: the I/O side (a device callback, or
// the file pump in RunFile) owns one end of each, the processing goroutine the
// other. Counters read by other goroutines are atomics.
//
// # Latency
//
// Every Processor states its stream delay, Latency(), in frames: an impulse
// at input frame k reaches the output at frame k+Latency(). For Spectral it
// is the synthesis window's reach minus one frame (stft.Config.Reach; N−2 for
// the periodic sqrt-Hann window of N, whose first coefficient is 0), the
// least any block processor with arbitrary block sizes can achieve. RunFile compensates it, so output frame k lines up with input
// frame k. In real time the end-to-end latency adds the device buffers, the
// ring fill and the processing time; Report lists each term.
//
// # Why hand-written
//
// The engine, histogram and report are the project's own craft: no library
// offers an allocation-free block engine with a stated latency budget.
package stream
