package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/livesep/livesep/stream/device"
)

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	c := newCLI("devices", "devices [--json]",
		`  live devices          # table of host APIs and devices
  live devices --json   # the same for machines

Lists every PortAudio host API and its devices: the index and name that
"live run --in/--out" accept, input and output channels, the default sample
rate, and the default low and high latencies. "*" marks a host API's
default input (i) and output (o). A running JACK server shows up as the
"JACK Audio Connection Kit" host API with its "system" device.
`, stdout)
	c.fs.BoolVar(&asJSON, "json", false, "print JSON")
	if err := c.parse(args); err != nil {
		return err
	}
	if err := device.Init(""); err != nil {
		return err
	}
	defer device.Terminate()
	apis, err := device.HostAPIs()
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(apis, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return nil
	}
	printDevices(stdout, apis)
	return nil
}

func printDevices(w io.Writer, apis []device.HostAPI) {
	lat := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	for _, a := range apis {
		def := ""
		if a.Default {
			def = " (default)"
		}
		fmt.Fprintf(w, "%s%s: %d device(s)\n", a.Name, def, len(a.Devices))
		if len(a.Devices) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  index\tname\tin\tout\trate Hz\tlatency in ms low/high\tlatency out ms low/high\t")
		for _, d := range a.Devices {
			mark := ""
			if d.DefaultInput {
				mark += "i"
			}
			if d.DefaultOutput {
				mark += "o"
			}
			if mark != "" {
				mark = " *" + mark
			}
			fmt.Fprintf(tw, "  %d\t%s%s\t%d\t%d\t%.0f\t%s/%s\t%s/%s\t\n", d.Index, d.Name, mark, d.InChannels, d.OutChannels, d.DefaultRate,
				lat(d.LowInputLatency), lat(d.HighInputLatency), lat(d.LowOutputLatency), lat(d.HighOutputLatency))
		}
		tw.Flush()
	}
	if _, _, ok := device.JACK(); !ok {
		fmt.Fprintln(w, "\nNo JACK server is running (live run uses JACK when the default devices cannot open).")
	}
}
