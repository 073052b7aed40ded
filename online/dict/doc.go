// Package dict is livesep's dictionary autoencoder: one small autoencoder
// per source class (speech, music, noise, …) whose decoder is that class's
// generative dictionary of spectra. It trains models (Train), stores them
// in a versioned, checksummed file (Model.Save, Load, Parse; a default
// model is embedded: Default), and separates with them in real time:
//
//   - Separator: single-channel separation into the model's classes
//     (`live separate --method dict`), reading mic 1;
//   - PostFilter: a dictionary post-filter behind another separator, e.g.
//     online.IVA (`--method iva+dict`), that removes residual crosstalk and
//     names each output's class (Labels).
//
// Both are stream.Separators: wrap them with
// stream.NewSpectral(model.STFT(), sep).
//
// # Model
//
// Features (frontend.go), per STFT spectrum X_t of Size bins:
//
//	b_j  = Σ_f w_jf |X_f| / Σ_f w_jf        Bands mel-spaced triangles (≥ 1 bin apart)
//	L_t  = running mean of mean_j b_j       (bias-corrected EMA, LevelFrames)
//	X̄_j  = b_j / (L_t + EpsAbs)             level-free bands
//	ℓ_j  = log(X̄_j + EpsRel)
//	u_t  = [ℓ_{t−d} : d ∈ Lags,  τ_t,  μ_t, σ_t]   encoder input
//
// τ_j = log((peak bin + e)/(b_j + e)) is the band's tonality (near 0 for
// noise, large for a dominant partial: the fine structure that the bands
// average away), μ_j and σ_j the running mean and deviation of ℓ_j over
// SlowFrames spectra (stationary noise has a small σ, speech a large one).
// Class k has an encoder E_k (MLP, linear output: the latent code h_k) and a
// decoder D_k (MLP ending in softplus, so its output is non-negative):
// c_k = D_k(h_k) is the square-root-compressed band magnitude of class k,
// Ŝ_k = c_k² its band magnitude (in units of L_t).
//
// # Training
//
// Random mixtures are synthesised from the classes' files at every epoch
// (Train): each excerpt gets a random gain (±GainDB), speed (±Speed), a
// smooth random EQ (±EQDB) and, with probability Reverb, a synthetic room
// response (RT60 up to MaxRT60); a share Single of the mixtures hold one
// class, the others two or more. The mixture's features are the input and
// each class's own (reverberant) component is its autoencoder's target, so
// D_k(E_k(mixture)) learns to reconstruct class k out of a mixture:
//
//	ℓ = (1−λ)·(1/K)·Σ_k (c_k − t_k)² + λ·(1/K)·Σ_k (c_k·√(X̄/Σ_i c_i²) − t_k)²,
//	t_k = √(S̄_k)
//
// (λ = MaskLoss; the second term scores the soft mask the classes make
// together). Mini-batch backprop (gonum mat) with AdamW (decoupled weight
// decay) and a running (Polyak) average of the weights; the learning rate
// follows a cosine from LearnRate to LearnRate/20 over all Epochs (20), and
// the averaged weights after the last epoch are kept. The mask SNR gain of
// fixed validation mixtures made from held-out files is reported per epoch
// but decides nothing: it moves by ±0.2 dB from epoch to epoch (a few
// held-out pieces per class, weights that still move), so the former
// schedule — rate halved on two-epoch plateaus of it, early stop, best
// epoch kept — trained a model whose dev scores depended on the seed and on
// rounding (best epoch 2 to 9; 1-mic dev ΔSDR 3.0 to 5.6 dB over seeds
// 1–4; now 5.6 to 7.3, and 5.8 to 6.5 dB mean over nine other 1-mic
// mixtures, formerly 3.5 to 5.0). Keep "best" and Schedule "plateau" still
// select the former schedule. Everything
// random is drawn from seeded PCGs and gonum's parallel matrix products
// split work by position, so a seed gives the same model bytes on every run
// (TestTrainDeterministic).
//
// Calibration (calib.go), on the validation mixtures, then picks what the
// network cannot: the mask power p ∈ {1, 2} and per-class gains g_k (a
// decoder that systematically over-estimates its class, measured there),
// the latent step size (the smallest within 0.01 dB of the best: the
// former "≥ 0.1 dB over no steps" rule flipped to no steps on a 0.09 dB
// gain for one seed), and the confusion
// matrix: per class, the mean energy shares the model gives on streams that
// class dominates (≥ 70 % of the power).
//
// # Separation
//
// Per spectrum (infer.go) the codes start from the encoders and from the
// previous spectrum's fit (h_k = E_k(u_t) + Carry·(h*_{k,t−1} − E_k(u_{t−1})),
// Carry 0.9 for Separator: the fit's corrections persist ~10 spectra, so
// the few steps per spectrum add up over a syllable or a note; 0.5 for
// PostFilter)
// and take gradient steps on
//
//	J(h) = Σ_j (√(X̄_j+δ) − √(Σ_k Ŝ_kj + δ))²
//
// through the decoders — the sum is formed where sources add (magnitudes),
// the error is measured where it is perceptually even (compressed) — with
// backtracking (a step that raises J is undone and halved), until MaxSteps
// or the time budget. The fitted Ŝ_k give band masks
// M_k = (g_k·Ŝ_k)^p / Σ_i (g_i·Ŝ_i)^p, interpolated to bins by the same
// triangles and applied to the complex spectrum; each class's energy on the
// stream is the band power its mask takes.
//
// With fewer outputs M than classes all classes are fitted and grouped into
// M outputs (ReduceGroup): the pair of groups whose merge loses least —
// min(E_A, E_B)·(1 − κ_AB), E the running energies, κ the confusability
// from the confusion matrix — is merged until M remain, so an absent class
// or two classes the model confuses (drum-heavy music and noise) share an
// output; each output carries the sum of its classes' masks (ReduceRenorm
// and ReduceDrop write the M strongest classes instead). PostFilter fits all
// classes on each inner output i and keeps running class energies on it
// twice: from the fitted codes, which name the output, and from the codes
// before any latent step (the encoders' outputs smoothed by Carry), which
// give the masks and the assignment below — on an IVA output the fit also
// explains residual crosstalk with the output's own class, so its masks
// keep more of it (PostFilterConfig.FitMasks has the figures); by
// default (PostAssign) every class belongs to the output where its share is
// largest, and output i is masked by the sum of its label's and its
// classes' masks, which removes the classes the other outputs own. Labels
// name a stream by the confusion row that best explains its energy shares
// (multinomial likelihood), with the posterior as confidence.
//
// The post-filter then multiplies output i's band mask by a crosstalk gain
// that uses the other outputs as references of the leak:
//
//	G_ij = (P_ij / (P_ij + λ·Σ_{o≠i} P_oj))^γ     λ = 0.5, γ = 0.75
//
// P_oj the running power (time constant CrossFrames, ~70 ms) of inner
// output o in band j. It removes crosstalk the dictionary cannot place
// (a leak of the output's own class, e.g. two talkers) and sharpens the
// class masks where the outputs differ.
//
// # Real-time contract
//
// NewSeparator/NewPostFilter check the configuration, Prepare allocates
// everything; Separate does not allocate, lock or block (AllocsPerRun
// tests). Inference runs plain float32 loops over preallocated slices, no
// gonum. NaN/Inf input bins are output as 0, counted, and reported by the
// sticky Err until Reset. With a budget (SetBudget or Config.Budget) the
// latent loop checks time.Now() after each step and stops when one more
// step of the mean cost so far would pass the deadline; the encoder warm
// start alone is the floor. Stats counts spectra, steps and cut spectra.
//
// # Concurrency
//
// A Separator or PostFilter is used by one goroutine (the engine's).
// SetBudget, Stats, Labels, LabelsTo and ClassesTo read and write atomics
// only and may be called from any goroutine at any time. ClassNames and
// ClassesTo make both a stream.ClassReporter: the live monitor, plain lines
// and --stats of live run show which output is which class through them. A Model is immutable and may be
// shared by any number of separators.
//
// # Latency
//
// None beyond the STFT's: the mask for spectrum t is computed from spectra
// up to t. (Because the mask depends on the spectrum it is applied to, an
// input change can alter output frames up to Size−1 frames before the one
// it reaches at the stated latency — still causal; the tests run
// streamtest.CheckProcessor with Options.MaskReach = Size−1.)
//
// # Why hand-written
//
// The hot path needs allocation-free, lock-free dense layers of a few
// hundred units: gonum mat allocates on aliasing, takes pool workspace and
// may start goroutines, so inference uses its own float32 loops (net.go)
// and gonum only in training and as the test oracle.
package dict
