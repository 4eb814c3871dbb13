package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"buildledger/handlers"
	"buildledger/internal/policy"
	"buildledger/internal/termout"
)

// policySettings say which access policy the worker applies, and how.
type policySettings struct {
	// File is the policy file (YAML or JSON); empty for none.
	File string
	// Mode is off, audit or enforce.
	Mode string
}

// bindFlags registers the policy flags with defaults taken from the environment.
func (s *policySettings) bindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.File, "policy", envString("BUILDLEDGER_POLICY", ""), "worker: access policy file (YAML or JSON), reloaded on SIGHUP; see `buildledger policy check` (env BUILDLEDGER_POLICY)")
	fs.StringVar(&s.Mode, "policy-mode", envString("BUILDLEDGER_POLICY_MODE", string(policy.ModeOff)), "worker: off (no policy), audit (decide as off, count and log what enforce would reject) or enforce (reject with code forbidden) (env BUILDLEDGER_POLICY_MODE)")
}

// validate reports every problem of the policy flags.
func (s policySettings) validate() error {
	mode, err := policy.ParseMode(s.Mode)
	if err != nil {
		return fmt.Errorf("--policy-mode: %w", err)
	}
	if mode != policy.ModeOff && s.File == "" {
		return fmt.Errorf("--policy-mode %s needs a --policy file", mode)
	}
	return nil
}

// accessPolicy returns the worker's access policy: nil when the mode is off; otherwise
// the file's, reloaded whenever the process receives SIGHUP for as long as it runs (a
// file that no longer loads keeps the policy in force, and the log says why).
func (s policySettings) accessPolicy(log *zerolog.Logger) (handlers.AccessPolicy, error) {
	mode, err := policy.ParseMode(s.Mode)
	if err != nil || mode == policy.ModeOff {
		return nil, err
	}
	src, err := policy.NewSource(s.File)
	if err != nil {
		return nil, usageError("--policy: %v", err)
	}
	log.Info().Str("policy", src.Policy().Hash()).Str("file", s.File).Str("mode", string(mode)).Msg("access policy loaded")
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go reloadOn(hup, src, log)
	return policyGuard{policy.NewGuard(mode, src)}, nil
}

// reloadOn reloads src each time sig delivers, until sig is closed.
func reloadOn(sig <-chan os.Signal, src *policy.Source, log *zerolog.Logger) {
	for range sig {
		p, err := src.Reload()
		if err != nil {
			log.Error().Err(err).Str("policy", p.Hash()).Msg("access policy not reloaded; the previous one stays in force")
			continue
		}
		log.Info().Str("policy", p.Hash()).Str("file", src.Path()).Msg("access policy reloaded")
	}
}

// policyGuard is a policy.Guard as the command handler asks it.
type policyGuard struct{ guard *policy.Guard }

// Check decides r under the policy in force.
func (g policyGuard) Check(r handlers.PolicyRequest) handlers.PolicyDecision {
	v := g.guard.Check(policy.Request{Actions: r.Actions, Name: r.Name, User: r.User,
		Caller: policy.Caller{SenderID: r.SenderID, Identity: r.Identity}})
	return handlers.PolicyDecision{Hash: v.Hash, Action: v.Action, Refusal: v.Reason, Enforced: v.Enforced}
}

func newPolicyCommand(s *settings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check access policy files",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file and print what each rule allows",
		Long: `Validate a policy file (YAML or JSON) as the worker loads it, and print what each rule
allows: its actions, names, matchers and user condition, and the groups. On a bad file
every problem is printed and the exit code is 1.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := policy.Load(args[0])
			if err != nil {
				return err
			}
			summary := p.Summary()
			if s.printer(cmd).Format != termout.FormatTable {
				return termout.WriteJSON(cmd.OutOrStdout(), summary)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), summary.String())
			return err
		},
	})
	return cmd
}
