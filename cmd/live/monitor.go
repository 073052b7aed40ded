package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/livesep/livesep/stream"
	"github.com/livesep/livesep/stream/device"
)

// monitorHandle stops a monitor; stop reports whether the user pressed
// Ctrl-C inside it (the terminal UI reads keys in raw mode, so Ctrl-C
// arrives as a key, not as SIGINT).
type monitorHandle struct {
	stop func() (interrupted bool)
}

// ticker runs f every d on its own goroutine until stopped.
func ticker(d time.Duration, f func()) *monitorHandle {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				f()
			}
		}
	}()
	var once sync.Once
	return &monitorHandle{stop: func() bool {
		once.Do(func() { close(quit); <-done })
		return false
	}}
}

// startStats prints one JSON line per second. It allocates nothing per line
// (strconv appends into one reused buffer), so the heap_allocs figure it
// prints stays flat when the rest of the process is allocation-free.
func startStats(rt *stream.Realtime, dev *device.Stream, probe *stream.RuntimeProbe, w io.Writer) *monitorHandle {
	buf := make([]byte, 0, 1024)
	var snap stream.Snapshot
	rt.SnapshotTo(&snap) // sizes its slices before the base reading
	names := rt.ClassNames()
	base := probe.Read()
	start := time.Now()
	return ticker(time.Second, func() {
		s := rt.Stats()
		ds := dev.Stats()
		m := probe.Read()
		b := buf[:0]
		b = append(b, `{"t_s":`...)
		b = strconv.AppendFloat(b, time.Since(start).Seconds(), 'f', 1, 64)
		num := func(name string, v int64) {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, v, 10)
		}
		us := func(name string, d time.Duration) {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = strconv.AppendFloat(b, float64(d)/float64(time.Microsecond), 'f', 1, 64)
		}
		num("callbacks", s.Callbacks)
		num("period_frames", s.PeriodFrames)
		num("prime_frames", s.PrimeFrames)
		num("blocks", s.Blocks)
		num("degraded", s.Degraded)
		num("passed", s.Passed)
		num("dropped", s.Dropped)
		num("late", s.Late)
		num("underrun_frames", s.UnderrunFrames)
		num("input_lost_frames", s.InputLostFrames)
		num("record_lost_frames", s.RecordLostFrames)
		num("host_xrun_flags", ds.InputOverflows+ds.InputUnderflows+ds.OutputOverflows+ds.OutputUnderflows)
		us("p50_us", s.P50)
		us("p99_us", s.P99)
		us("max_us", s.Max)
		num("in_ring_max_frames", s.InFillMaxFrames)
		num("out_ring_max_frames", s.OutFillMaxFrames)
		num("heap_allocs", int64(m.HeapAllocObjects-base.HeapAllocObjects))
		num("heap_alloc_bytes", int64(m.HeapAllocBytes-base.HeapAllocBytes))
		num("gc_cycles", int64(m.GCCycles-base.GCCycles))
		if n := rt.SceneChanges(); n >= 0 {
			num("scene_changes", n)
		}
		if len(names) > 0 {
			// Which output is which class (the dictionary); null while undecided.
			rt.SnapshotTo(&snap)
			b = append(b, `,"classes":[`...)
			for i, c := range snap.Classes {
				if i > 0 {
					b = append(b, ',')
				}
				if c >= 0 && c < len(names) {
					b = strconv.AppendQuote(b, names[c])
				} else {
					b = append(b, "null"...)
				}
			}
			b = append(b, ']')
		}
		b = append(b, "}\n"...)
		w.Write(b)
		buf = b
	})
}

// startPlain prints one human-readable line per second (monitor output
// when stdout is not a terminal).
func startPlain(rt *stream.Realtime, w io.Writer) *monitorHandle {
	var s stream.Snapshot
	start := time.Now()
	return ticker(time.Second, func() {
		rt.SnapshotTo(&s)
		fmt.Fprintln(w, plainLine(&s, rt.ClassNames(), time.Since(start)))
	})
}

// plainLine is one line of the plain monitor; names are the class names
// that s.Classes index (nil without the dictionary).
func plainLine(s *stream.Snapshot, names []string, t time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%5.1fs levels", t.Seconds())
	for i, l := range s.OutLevels {
		fmt.Fprintf(&b, " s%d %5.1f", i+1, l)
	}
	b.WriteString(" dB")
	if len(s.Alpha) > 0 {
		b.WriteString(" | α")
		for _, a := range s.Alpha {
			fmt.Fprintf(&b, " %.3g", a)
		}
	}
	if !math.IsNaN(s.Convergence) {
		fmt.Fprintf(&b, " | conv %.2g", s.Convergence)
	}
	if s.SceneChanges >= 0 {
		fmt.Fprintf(&b, " | scene changes %d", s.SceneChanges)
	}
	if len(names) > 0 && len(s.Classes) > 0 {
		b.WriteString(" | class")
		for _, c := range s.Classes {
			name := "—"
			if c >= 0 && c < len(names) {
				name = names[c]
			}
			b.WriteString(" " + name)
		}
	}
	st := s.Stats
	fmt.Fprintf(&b, " | p99 %v | blocks %d degraded %d passed %d dropped %d late %d | underrun %d in-lost %d",
		st.P99.Round(time.Microsecond), st.Blocks, st.Degraded, st.Passed, st.Dropped, st.Late, st.UnderrunFrames, st.InputLostFrames)
	return b.String()
}

// startTUI runs the terminal monitor. quit ends the run (key q).
func startTUI(rt *stream.Realtime, header string, w io.Writer, quit func()) *monitorHandle {
	m := newMonitorModel(rt, header, quit)
	p := tea.NewProgram(m, tea.WithOutput(w), tea.WithAltScreen())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run()
	}()
	var once sync.Once
	return &monitorHandle{stop: func() bool {
		once.Do(func() { p.Quit(); <-done })
		return m.interrupted
	}}
}

// monitorModel is the bubbletea model of the terminal monitor. It reads the
// driver through SnapshotTo (atomics) and changes the mix through
// SetSourceGain/SetRoute (atomics): it never touches the processor.
type monitorModel struct {
	rt          *stream.Realtime
	header      string
	quit        func()
	snap        stream.Snapshot
	sel         int
	level       []float32 // per-source gain the user set (linear)
	muted, solo []bool
	interrupted bool
	start       time.Time
}

func newMonitorModel(rt *stream.Realtime, header string, quit func()) *monitorModel {
	n := rt.Sources()
	m := &monitorModel{rt: rt, header: header, quit: quit, level: make([]float32, n), muted: make([]bool, n), solo: make([]bool, n), start: time.Now()}
	for i := range m.level {
		m.level[i] = 1
	}
	rt.SnapshotTo(&m.snap)
	return m
}

type tickMsg time.Time

func tick() tea.Cmd {
	return tea.Tick(100*time.Millisecond, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *monitorModel) Init() tea.Cmd { return tick() }

func (m *monitorModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tickMsg:
		m.rt.SnapshotTo(&m.snap)
		return m, tick()
	case tea.KeyMsg:
		return m, m.key(msg.String())
	}
	return m, nil
}

// key handles one key press; it returns tea.Quit for q and Ctrl-C.
func (m *monitorModel) key(k string) tea.Cmd {
	n := len(m.level)
	switch k {
	case "ctrl+c":
		m.interrupted = true
		m.quit()
		return tea.Quit
	case "q", "esc":
		m.quit()
		return tea.Quit
	case "m":
		m.muted[m.sel] = !m.muted[m.sel]
	case "s":
		m.solo[m.sel] = !m.solo[m.sel]
	case "+", "=":
		m.level[m.sel] = min(m.level[m.sel]*dbStep, 16)
	case "-":
		m.level[m.sel] /= dbStep
	case "0":
		for i := range m.level {
			m.level[i], m.muted[i], m.solo[i] = 1, false, false
		}
	case "r":
		// rotate: every output moves on to the next source
		for k, r := range m.rt.Routes() {
			if r.Source >= 0 {
				r.Source = (r.Source + 1) % n
				m.rt.SetRoute(k, r)
			}
		}
	case "up", "k":
		m.sel = (m.sel + n - 1) % n
	case "down", "j", "tab":
		m.sel = (m.sel + 1) % n
	default:
		if len(k) == 1 && k[0] >= '1' && k[0] <= '9' && int(k[0]-'1') < n {
			m.sel = int(k[0] - '1')
		}
	}
	m.apply()
	return nil
}

// dbStep is 1 dB.
var dbStep = float32(math.Pow(10, 1.0/20))

// apply pushes the effective per-source gains to the callback.
func (m *monitorModel) apply() {
	anySolo := false
	for _, s := range m.solo {
		anySolo = anySolo || s
	}
	for i := range m.level {
		g := m.level[i]
		if m.muted[i] || (anySolo && !m.solo[i]) {
			g = 0
		}
		m.rt.SetSourceGain(i, g)
	}
}

var (
	stTitle = lipgloss.NewStyle().Bold(true)
	stSel   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12"))
	stDim   = lipgloss.NewStyle().Faint(true)
	stWarn  = lipgloss.NewStyle().Foreground(lipgloss.Color("9"))
	stOK    = lipgloss.NewStyle().Foreground(lipgloss.Color("10"))
	stBar   = lipgloss.NewStyle().Foreground(lipgloss.Color("10"))
	stHot   = lipgloss.NewStyle().Foreground(lipgloss.Color("11"))
)

// meter draws a level from −60 to 0 dBFS as a bar of width w.
func meter(db float64, w int) string {
	f := (db + 60) / 60
	f = max(0, min(1, f))
	n := int(math.Round(f * float64(w)))
	bar := strings.Repeat("█", n)
	if db > -6 {
		bar = stHot.Render(bar)
	} else {
		bar = stBar.Render(bar)
	}
	return bar + stDim.Render(strings.Repeat("░", w-n))
}

func convWord(c float64) string {
	switch {
	case math.IsNaN(c):
		return ""
	case c > 1e-2:
		return stWarn.Render("adapting")
	case c > 1e-4:
		return stHot.Render("converging")
	}
	return stOK.Render("settled")
}

func (m *monitorModel) View() string {
	s := &m.snap
	var b strings.Builder
	b.WriteString(stTitle.Render(m.header))
	b.WriteString("\n\n")
	names := m.rt.ClassNames()
	b.WriteString(stDim.Render(" src   level                                    gain    α        class") + "\n")
	for i := range m.level {
		mark := "  "
		if i == m.sel {
			mark = stSel.Render("▶ ")
		}
		lvl := silentLevel
		if i < len(s.OutLevels) {
			lvl = s.OutLevels[i]
		}
		state := "  "
		switch {
		case m.muted[i]:
			state = stWarn.Render("M ")
		case m.solo[i]:
			state = stOK.Render("S ")
		}
		alpha := "   —   "
		if i < len(s.Alpha) && !math.IsNaN(s.Alpha[i]) && s.Alpha[i] != 0 {
			alpha = fmt.Sprintf("%7.3g", s.Alpha[i])
		}
		class := "—"
		if i < len(s.Classes) && s.Classes[i] >= 0 && s.Classes[i] < len(names) {
			class = names[s.Classes[i]]
		}
		g := float32(0)
		if i < len(s.Gains) {
			g = s.Gains[i]
		}
		fmt.Fprintf(&b, "%s%-3d %s %6.1f dB %s%5.2f  %s  %s\n", mark, i+1, meter(lvl, 28), lvl, state, g, alpha, class)
	}
	b.WriteString(stDim.Render(" mics  "))
	for i, l := range s.InLevels {
		fmt.Fprintf(&b, "%d: %.1f dB  ", i+1, l)
	}
	b.WriteString("\n")
	if !math.IsNaN(s.Convergence) {
		fmt.Fprintf(&b, " convergence %.2g %s\n", s.Convergence, convWord(s.Convergence))
	}
	if s.SceneChanges >= 0 {
		fmt.Fprintf(&b, " scene       tracking on, %d change(s) detected (the separator restarted from its short memory)\n", s.SceneChanges)
	}
	b.WriteString(" outputs     " + strings.Join(routeStrings(m.rt.Routes()), ", ") + "\n\n")
	st := s.Stats
	fmt.Fprintf(&b, " processing  p50 %v  p99 %v  p99.9 %v  max %v  (period %d frames, priming %d)\n",
		st.P50.Round(time.Microsecond), st.P99.Round(time.Microsecond), st.P999.Round(time.Microsecond), st.Max.Round(time.Microsecond), st.PeriodFrames, st.PrimeFrames)
	ev := fmt.Sprintf(" blocks      %d normal  %d degraded  %d passed  %d dropped  %d late | underrun %d frames (%d)  input lost %d",
		st.Normal, st.Degraded, st.Passed, st.Dropped, st.Late, st.UnderrunFrames, st.UnderrunEvents, st.InputLostFrames)
	if st.Degraded+st.Passed+st.Dropped+st.Late+st.UnderrunFrames+st.InputLostFrames > 0 {
		ev = stWarn.Render(ev)
	}
	b.WriteString(ev + "\n")
	fmt.Fprintf(&b, " running     %v\n\n", time.Since(m.start).Round(time.Second))
	b.WriteString(stDim.Render(" keys: 1-9/↑↓ select  m mute  s solo  +/- gain 1 dB  r rotate outputs  0 reset  q quit"))
	b.WriteString("\n")
	return b.String()
}

const silentLevel = -120.0
