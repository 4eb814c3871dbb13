// Command buildledger keeps the state of a CI platform — repositories and their builds,
// package build status, deploy locks and running jobs — as events in DynamoDB. It is one
// binary: `init` creates the tables, queues and topic; `worker` turns commands from SQS into
// events and keeps the read models; `serve` answers queries over HTTP; `run` does both; the
// other subcommands are the command line people and CI scripts use.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes of every subcommand.
const (
	exitOK       = 0 // done; a state change was accepted
	exitRejected = 1 // the service rejected the command, or it failed
	exitUsage    = 2 // bad flags or arguments
	exitTimeout  = 3 // the service did not answer in time

	exitInterrupted = 130 // interrupted (Ctrl-C, SIGTERM); what the command did is printed
)

// exitError carries the exit code a failure maps to.
type exitError struct {
	code int
	err  error
	// rejection is the stable code of a rejected command ("locked", …), if any.
	rejection string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(root.ErrOrStderr(), "buildledger:", err)
	return exitCode(err)
}

// exitCode maps a command's error to the process exit code.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitRejected
}

func newRootCommand() *cobra.Command {
	s := &settings{}
	root := &cobra.Command{
		Use:   "buildledger",
		Short: "Event-sourced state of builds, package releases, deploy locks and running jobs",
		Long: `buildledger keeps the state of a CI platform as events in DynamoDB.

CI systems send commands to an SQS queue; the worker decides, appends events, and keeps
read models (repos, builds, package status, locks, jobs) that these commands query.

AWS is configured the standard way (AWS_REGION, credentials, AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_SNS); everything else with flags or BUILDLEDGER_*
variables, listed under each command's --help.

Answers are tables (a list) or key/value blocks (one object) on a terminal, with local times
and coloured statuses (unless NO_COLOR is set), and the same indented JSON as always when
stdout is a pipe or a file; -o json or -o table (env BUILDLEDGER_OUTPUT) chooses.

Exit codes: 0 accepted or done, 1 rejected or failed, 2 bad usage, 3 no answer in time, 130
interrupted. A command whose wait ends unanswered is withdrawn, so what is reported is what
happened.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.validate(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		},
	}
	s.bindFlags(root.PersistentFlags())
	// --help lists the commands in the order they are added here, under their group.
	cobra.EnableCommandSorting = false
	root.AddGroup(
		&cobra.Group{ID: groupService, Title: "Running the service:"},
		&cobra.Group{ID: groupState, Title: "Changing and reading the state:"},
		&cobra.Group{ID: groupAbout, Title: "About this binary:"},
	)
	for _, c := range []struct {
		group string
		cmd   *cobra.Command
	}{
		{groupService, newInitCommand(s)},
		{groupService, newWorkerCommand(s)},
		{groupService, newServeCommand(s)},
		{groupService, newRunCommand(s)},
		{groupService, newReplayCommand(s)},
		{groupService, newPolicyCommand(s)},
		{groupService, newSubscriptionsCommand(s)},
		{groupState, newBuildsCommand(s)},
		{groupState, newReposCommand(s)},
		{groupState, newStatusCommand(s)},
		{groupState, newLocksCommand(s)},
		{groupState, newFreezesCommand(s)},
		{groupState, newJobsCommand(s)},
		{groupState, newEventsCommand(s)},
		{groupAbout, newVersionCommand(s)},
	} {
		c.cmd.GroupID = c.group
		root.AddCommand(c.cmd)
	}
	// cobra adds these while executing; added now, their arguments are checked below too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	typeUsageErrors(root)
	return root
}

// typeUsageErrors makes every argument and flag error of cmd and its subcommands a usage
// error (exit 2) where it arises, so the exit code never depends on cobra's wording: flag
// parsing through the flag error function (which subcommands inherit), and arguments,
// required flags and flag groups through each command's Args validator. A command that only
// groups others prints its help when called alone.
func typeUsageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} })
	if cmd.HasSubCommands() && cmd.RunE == nil && cmd.Run == nil {
		cmd.Args = cobra.NoArgs
		cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	cmd.Args = usageArgs(cmd.Args)
	for _, c := range cmd.Commands() {
		typeUsageErrors(c)
	}
}

// usageArgs wraps an Args validator (nil accepts any arguments) so that what it rejects is a
// usage error. cobra validates required flags and flag groups after Args, with errors of no
// type of their own, so they are validated here first.
func usageArgs(validate cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if validate != nil {
			if err := validate(cmd, args); err != nil {
				if cmd.HasSubCommands() && len(args) > 0 {
					return usageError("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
				}
				return &exitError{code: exitUsage, err: err}
			}
		}
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		return nil
	}
}

// Groups of subcommands in --help.
const (
	groupService = "service" // installing, running and rebuilding the service
	groupState   = "state"   // the command line of people and CI scripts
	groupAbout   = "about"   // the binary itself: its version
)
