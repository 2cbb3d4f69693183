# bluegreen-perl host script: puts one release of a PSGI app on this host.
#
# The action runs it over SSH (`perl - ARGS`, this text on stdin, an uploaded tarball after
# __END__) or through AWS SSM (written to a temporary file, then `perl FILE ARGS`; the release comes
# from git, or from S3 through a presigned URL in BLUEGREEN_RELEASE_URL, checked against --sha256). Every value
# arrives as one `--name=value` argument and is used as data: external commands are run as lists,
# never through a shell, except the commands the user wrote for this purpose (install-command,
# test-command, restart-command).
#
# Steps, in order, stopping at the first failure:
#   1 fetch    the release into a temporary directory under <app-dir>/releases, and its digest
#   2 install  CPAN dependencies (Carton, cpanm, or install-command)
#   3 check    perl -c of the PSGI file, then the optional test command
#   4 link     shared paths; the complete release moves to releases/<id>; flip <app-dir>/current
#              atomically (symlink + rename)
#   5 restart  gracefully: server-starter | starman | systemd | command
#   6 probe    the health path on this host, with retries and backoff
#   7 prune    keep the last N releases
# A failure in steps 5-6 puts the previous release back, restarts it and probes it again.
#
# Reruns are idempotent: releases/<id> only ever holds a complete release (installed and checked),
# with the digest of its content in .bluegreen-release.json. The same id with the same content is
# used as it is (and is left alone when it is already live and healthy); the same id with other
# content replaces a release that is not live and is refused while live; a directory without a
# digest (left half-installed by an older version) is installed again.
#
# Time limits: `--timeout` bounds the whole script and `--step-timeout=<step>=<seconds>` each of
# fetch, install, check, restart and probe. The script runs in a session of its own (its id is
# printed first as `==> session <id>`, so the runner can end it from a second connection), and each
# command it starts gets a process group of its own: a step that runs out of time has its group
# ended (TERM, then KILL), fails by name, and the previous release stays live or is put back.
#
# Output, for the runner: `==> [n/7] step: what` when a step starts; at the end one of
# `==> OK: ...` (exit 0), `==> FAILED step: why` (exit 1: nothing live changed),
# `==> RESTORED: ...` (exit 2: failed after the flip, previous release serving again),
# `==> NOT RESTORED: ...` (exit 3: failed after the flip and the way back failed too).
#
# Core modules only, and Perl 5.16 syntax: it runs on whatever perl the host has.
use strict;
use warnings;
use Digest::SHA ();
use Getopt::Long qw(GetOptionsFromArray);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

$| = 1;
# One ordered stream: the runner shows each host's output as it happened.
open STDERR, '>&', \*STDOUT or die "cannot merge stderr: $!\n";
select((select(STDERR), $| = 1)[0]);

my @STEPS = qw(fetch install check link restart probe prune);
my %opt = (
  'psgi' => 'app.psgi',
  'restart' => 'server-starter',
  'keep' => 5,
  'listen' => '0.0.0.0:5000',
  'health-path' => '/health',
  'health-status' => 200,
  'health-retries' => 10,
  'health-interval' => 3,
  'health-timeout' => 5,
  'restart-timeout' => 60,
  'shared' => [],
  'source' => 'stdin',
  'timeout' => 1800,
  'step-timeout' => {},
);
GetOptionsFromArray(\@ARGV, \%opt,
  'app-dir=s', 'release=s', 'color=s', 'app-name=s',
  'source=s', 'repository=s', 'ref=s', 'archive=s', 'sha256=s',
  'install-command=s', 'cpan-mirror=s', 'psgi=s', 'test-command=s', 'shared=s@',
  'restart=s', 'restart-command=s', 'systemd-unit=s', 'listen=s', 'restart-timeout=i',
  'health-path=s', 'health-status=i', 'health-retries=i', 'health-interval=f', 'health-timeout=f',
  'keep=i', 'timeout=i', 'step-timeout=i%',
) or finish_failed('arguments', 'the action passed arguments this host script does not know (version mismatch?)');

my $current_step = 'arguments';
my ($app, $releases, $name, $dir, $previous, $digest);
# Where the release is built until it is complete: a temporary directory, then releases/<id>.
my $work;

sub say_line { print join('', @_), "\n" }

sub step {
  my ($name, $what) = @_;
  $current_step = $name;
  arm_deadline($name);
  my ($n) = grep { $STEPS[$_] eq $name } 0 .. $#STEPS;
  say_line('==> [', $n + 1, '/', scalar @STEPS, "] $name: $what");
}

# ---- time limits ---------------------------------------------------------------------------------

my $script_deadline = time + $opt{timeout};
# When the current step must end, and which limit says so.
my ($step_deadline, $step_limit) = ($script_deadline, "the host-timeout of $opt{timeout} s");
# Putting the previous release back is not cut short by the host-timeout: only by its steps' limits.
my $restoring = 0;

sub arm_deadline {
  my ($name) = @_;
  my $limit = $opt{'step-timeout'}{$name};
  ($step_deadline, $step_limit) = $restoring ? (time + 3600, 'no limit') : ($script_deadline, "the host-timeout of $opt{timeout} s");
  if (defined $limit && $limit > 0 && time + $limit <= $step_deadline) {
    ($step_deadline, $step_limit) = (time + $limit, "its limit of $limit s (host-step-timeouts)");
  }
  # Pure-Perl waits (the upload, probe pauses, restart waits) end through the alarm; commands
  # started by run_cmd end through their own wait loop, which stops them first.
  alarm(POSIX::ceil($step_deadline - time) || 1);
}

# What started the script (the shell of an SSM command) is gone: SSM ended the command, but
# its kill does not reach this session. The script stops as if the runner had ended it.
my $parent;
sub orphaned { defined $parent && getppid() != $parent }

sub out_of_time { die { step => $current_step, message => "$current_step did not finish within $step_limit: stopped", timeout => 1 } }

$SIG{ALRM} = \&out_of_time;
# Ended by the runner (a cancelled run, or the host-timeout passed): fail the step, so what follows
# (putting the previous release back) still runs; the runner ends what is left after a while.
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { die { step => $current_step, message => "$current_step was stopped: the run was cancelled or ran out of time (signal $_[0])" } };
# A runner that hung up must not stop the script halfway: it finishes (or restores) without it.
$SIG{PIPE} = 'IGNORE';

# A failure of the current step: unwinds to the main flow, which decides whether to restore.
sub fail { die { step => $current_step, message => join('', @_) } }

sub finish_failed {
  my ($step, $message) = @_;
  say_line("==> FAILED $step: $message");
  exit 1;
}

# Runs a command given as a list (no shell), in a directory, with extra environment, in a process
# group of its own: when the step runs out of time the whole group ends (TERM, then KILL), with
# whatever the command started.
sub run_cmd {
  my ($cmd, %how) = @_;
  say_line('$ ', join(' ', map { /^[\w@%+=:,.\/-]+$/ ? $_ : "'" . s/'/'\\''/gr . "'" } @$cmd));
  my $pid = fork;
  fail("cannot fork: $!") unless defined $pid;
  if ($pid == 0) {
    $SIG{$_} = 'DEFAULT' for qw(ALRM TERM INT HUP PIPE);
    POSIX::setpgid(0, 0);
    if ($how{dir}) { chdir $how{dir} or do { print "cannot enter $how{dir}: $!\n"; POSIX::_exit(126) } }
    @ENV{ keys %{ $how{env} || {} } } = values %{ $how{env} || {} };
    open STDIN, '<', '/dev/null';
    exec { $cmd->[0] } @$cmd or do { print "cannot run $cmd->[0]: $!\n"; POSIX::_exit(127) };
  }
  POSIX::setpgid($pid, $pid); # also from here: no signal can reach the group before it exists
  my $done = eval {
    local $SIG{ALRM} = 'IGNORE'; # this loop watches the deadline itself, and stops the command first
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
      if (time >= $step_deadline) {
        end_group($pid);
        out_of_time();
      }
      orphaned() and die { step => $current_step, message => "$current_step was stopped: what started the host script has ended (the SSM command was cancelled or timed out)" };
      sleep 0.1;
    }
    1;
  };
  if (!$done) {
    my $error = $@;
    end_group($pid); # ended by the runner, say: what the command started goes too
    die $error;
  }
  return $? == 0 ? 0 : ($? & 127 ? 128 + ($? & 127) : $? >> 8);
}

# Ends a command's process group: TERM, then KILL to what is left after 5 s.
sub end_group {
  my ($pgid) = @_;
  return unless kill 0, -$pgid;
  say_line("stopping process group $pgid (TERM, then KILL after 5 s)");
  kill 'TERM', -$pgid;
  my $until = time + 5;
  while (time < $until) {
    waitpid($pgid, POSIX::WNOHANG());
    last unless kill 0, -$pgid;
    sleep 0.1;
  }
  kill 'KILL', -$pgid if kill 0, -$pgid;
  waitpid($pgid, 0);
}

sub must_run {
  my ($cmd, $what, %how) = @_;
  my $code = run_cmd($cmd, %how);
  fail("$what failed (exit $code)") if $code;
}

sub have_command {
  my ($cmd) = @_;
  return grep { -x "$_/$cmd" } split /:/, ($ENV{PATH} || '/usr/local/bin:/usr/bin:/bin');
}

sub read_file {
  my ($path) = @_;
  open my $fh, '<', $path or return undef;
  local $/;
  return scalar <$fh>;
}

sub write_file {
  my ($path, $content) = @_;
  open my $fh, '>', "$path.tmp$$" or fail("cannot write $path: $!");
  print {$fh} $content;
  close $fh or fail("cannot write $path: $!");
  rename "$path.tmp$$", $path or fail("cannot write $path: $!");
}

# The directory a release id names: `/` and `%` percent-encoded, so `release/1.2` is one directory.
sub dir_name {
  my ($id) = @_;
  (my $encoded = $id) =~ s{([%/])}{sprintf('%%%02X', ord $1)}ge;
  return $encoded;
}

sub current_target {
  my $target = readlink "$app/current";
  return undef unless defined $target;
  $target =~ s{.*/}{};
  return $target;
}

# Points `current` at a release: a new symlink renamed over the old one, so `current` always exists.
sub point_current_at {
  my ($release_dir) = @_;
  my $tmp = "$app/.current.$$";
  unlink $tmp;
  symlink("releases/$release_dir", $tmp) or fail("cannot create symlink $tmp: $!");
  rename($tmp, "$app/current") or fail("cannot rename $tmp over $app/current: $!");
}

sub tail_of {
  my ($path, $lines) = @_;
  my $text = read_file($path);
  return unless defined $text;
  my @all = split /\n/, $text;
  splice(@all, 0, @all - $lines) if @all > $lines;
  say_line("  | $_") for @all;
}

# ---- 1. fetch ----------------------------------------------------------------------------------

sub fetch_release {
  # Removed at exit unless it became the release directory: a failed run leaves nothing behind.
  my $incoming = tempdir(".incoming-$$-XXXX", DIR => $releases, CLEANUP => 1);
  $work = $incoming;
  my $source = $opt{source};
  if ($source eq 'stdin') {
    step('fetch', "unpack the uploaded release into releases/$name");
    binmode DATA;
    my $got = 0;
    # --no-same-owner: files belong to the user running the script, never to whatever uid made the
    # tarball on the runner (as root, tar would otherwise restore that uid, maybe a stranger's here).
    open my $tar, '|-', 'tar', '--no-same-owner', '-xzf', '-', '-C', $incoming or fail("cannot run tar: $!");
    binmode $tar;
    while (read(DATA, my $chunk, 65536)) { $got += length $chunk; print {$tar} $chunk }
    close $tar or fail($got ? 'the uploaded tarball did not unpack (tar failed)' : 'no tarball arrived after the script');
  } elsif ($source eq 'archive') {
    step('fetch', "unpack $opt{archive} into releases/$name");
    fail("no tarball at $opt{archive}") unless -f $opt{archive};
    must_run(['tar', '--no-same-owner', '-xzf', $opt{archive}, '-C', $incoming], 'unpacking the tarball');
  } elsif ($source eq 'url') {
    step('fetch', "download the release tarball into releases/$name");
    my $tarball = download_release();
    must_run(['tar', '--no-same-owner', '-xzf', $tarball, '-C', $incoming], 'unpacking the tarball');
  } elsif ($source eq 'git') {
    step('fetch', "shallow clone of $opt{ref} from $opt{repository} into releases/$name");
    fail('git is not installed on this host') unless have_command('git');
    must_run(['git', 'init', '--quiet', $incoming], 'git init');
    # `--` ends the options: a repository or ref starting with `-` stays a repository or a ref.
    must_run(['git', '-C', $incoming, 'fetch', '--quiet', '--depth', '1', '--', $opt{repository}, $opt{ref}], "fetching $opt{ref} from the repository");
    must_run(['git', '-C', $incoming, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', 'FETCH_HEAD'], 'checking out the release');
  } else {
    fail("unknown release source '$source'");
  }
  chmod 0755, $incoming;
  $digest = content_digest($incoming);
  say_line("content digest $digest");
}

# What the release holds, as a digest that does not depend on how it arrived (tarball timestamps,
# git metadata): every path with its type, executable bit and content or link target, in order.
# Left out: what the host adds itself (local/ from the install, the release record) and .git/.
sub content_digest {
  my ($root) = @_;
  my $sha = Digest::SHA->new(256);
  my @pending = ('');
  while (@pending) {
    my $relative = shift @pending;
    my $path = $relative eq '' ? $root : "$root/$relative";
    opendir(my $dh, $path) or fail("cannot read $path: $!");
    my @entries = sort grep { $_ ne '.' && $_ ne '..' } readdir $dh;
    closedir $dh;
    my @subdirs;
    for my $entry (@entries) {
      my $inside = $relative eq '' ? $entry : "$relative/$entry";
      next if $inside eq 'local' || $inside eq '.git' || $inside eq '.bluegreen-release.json';
      my $full = "$root/$inside";
      if (-l $full) {
        $sha->add("link\0$inside\0", readlink($full), "\0");
      } elsif (-d _) {
        $sha->add("dir\0$inside\0");
        push @subdirs, $inside;
      } elsif (-f _) {
        $sha->add('file', (-x _ ? 'x' : ''), "\0$inside\0", Digest::SHA->new(256)->addfile($full, 'b')->hexdigest, "\0");
      }
    }
    unshift @pending, @subdirs;
  }
  return 'sha256:' . $sha->hexdigest;
}

sub release_record {
  my ($release_dir) = @_;
  my $text = read_file("$release_dir/.bluegreen-release.json");
  return undef unless defined $text;
  my $record = eval { JSON::PP->new->decode($text) };
  return ref $record eq 'HASH' ? $record : undef;
}

# The release is complete (installed, checked, linked): recorded, then moved to releases/<id>.
sub move_into_place {
  write_file("$work/.bluegreen-release.json", JSON::PP->new->canonical->pretty->encode({
    release => $opt{release}, color => $opt{color}, app => $opt{'app-name'}, digest => $digest,
    deployed_at => POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime),
  }));
  remove_tree($dir) if -e $dir || -l $dir;
  rename($work, $dir) or fail("cannot move the release into $dir: $!");
  $work = $dir;
}

# Removes what killed runs left: temporary directories whose process is gone.
sub remove_stale_incoming {
  opendir(my $dh, $releases) or return;
  for my $entry (grep { /^\.incoming-(\d+)-/ && !kill(0, $1) } readdir $dh) {
    remove_tree("$releases/$entry");
    say_line("removed releases/$entry, left by a run that was stopped");
  }
}

# The `url` source: a presigned S3 GET URL. It is a credential for as long as it is valid, so it
# comes in the environment and reaches curl or wget in a file of mode 600, never on a command line
# (any user on the host sees those) and never in the output.
sub download_release {
  my $url = delete $ENV{BLUEGREEN_RELEASE_URL};
  fail('no download URL was passed (BLUEGREEN_RELEASE_URL is empty)') unless defined $url && $url =~ m{^https?://\S+$};
  fail('no --sha256 was passed to check the download against') unless ($opt{sha256} || '') =~ /^[0-9a-f]{64}$/;
  my $work = tempdir(".download-$$-XXXX", DIR => $releases, CLEANUP => 1);
  my ($file, $config, $headers) = ("$work/release.tar.gz", "$work/url", "$work/headers");
  my $status;
  if (have_command('curl')) {
    (my $quoted = $url) =~ s/(["\\])/\\$1/g;
    write_file($config, "url = \"$quoted\"\n");
    my $code = run_cmd(['curl', '--silent', '--show-error', '--retry', '3', '--connect-timeout', '20', '--config', $config, '--dump-header', $headers, '--output', $file]);
    fail("curl could not download the release (exit $code)") if $code;
    # With retries the file holds each attempt's headers: the last status line is the answer.
    ($status) = (read_file($headers) || '') =~ m{.*^HTTP/[\d.]+ (\d{3})}ms;
  } elsif (have_command('wget')) {
    write_file($config, "$url\n");
    my $code = run_cmd(['wget', '--quiet', '--tries=3', '--timeout=20', '--content-on-error', '--input-file', $config, '--output-document', $file]);
    $status = $code == 0 ? 200 : $code == 8 ? 'error' : fail("wget could not download the release (exit $code)");
  } else {
    fail('neither curl nor wget is installed on this host: install one of them to download the release from S3');
  }
  fail(download_error($file, $status || 'with no status')) unless ($status || '') eq '200';
  my $got = sha256_of($file);
  fail("the downloaded release has SHA-256 $got, not $opt{sha256}: the object in S3 is not the tarball the runner uploaded") unless $got eq $opt{sha256};
  say_line('downloaded ', -s $file, " bytes, SHA-256 $got as expected");
  return $file;
}

# S3 answers an error as XML (<Code>, <Message>): one line of it, never the URL.
sub download_error {
  my ($file, $status) = @_;
  my $body = read_file($file) || '';
  my ($code) = $body =~ m{<Code>([^<]*)</Code>};
  my ($message) = $body =~ m{<Message>([^<]*)</Message>};
  my $said = defined $code ? ": $code" . (defined $message ? " ($message)" : '') : '';
  my $hint = ($message || '') =~ /expired/i ? '; the presigned URL expired before this instance ran the release: deploy again' : '';
  return "downloading the release from S3 failed: HTTP $status$said$hint";
}

# Digest::SHA is core Perl, but some distributions package it apart: then coreutils' sha256sum.
sub sha256_of {
  my ($file) = @_;
  return Digest::SHA->new(256)->addfile($file, 'b')->hexdigest if eval { require Digest::SHA; 1 };
  open my $sum, '-|', 'sha256sum', '--', $file or fail("cannot run sha256sum: $!");
  my ($hex) = (scalar <$sum> || '') =~ /^([0-9a-f]{64})/;
  close $sum;
  fail('cannot compute the SHA-256 of the download (no Digest::SHA, no sha256sum)') unless $hex;
  return $hex;
}

# ---- 2. install --------------------------------------------------------------------------------

sub install_dependencies {
  my %env = $opt{'cpan-mirror'} ? (PERL_CARTON_MIRROR => $opt{'cpan-mirror'}) : ();
  if (defined $opt{'install-command'} && $opt{'install-command'} ne '') {
    step('install', 'CPAN dependencies with install-command');
    must_run(['sh', '-c', $opt{'install-command'}], 'install-command', dir => $work, env => \%env);
  } elsif (-f "$work/cpanfile.snapshot") {
    step('install', 'CPAN dependencies with carton install --deployment');
    fail('carton is not installed on this host (Debian: apt-get install carton)') unless have_command('carton');
    must_run(['carton', 'install', '--deployment'], 'carton install --deployment', dir => $work, env => \%env);
  } elsif (-f "$work/cpanfile") {
    step('install', 'CPAN dependencies with cpanm --installdeps into local/');
    fail('cpanm is not installed on this host (Debian: apt-get install cpanminus)') unless have_command('cpanm');
    my @mirror = $opt{'cpan-mirror'} ? ('--mirror', $opt{'cpan-mirror'}, '--mirror-only') : ();
    must_run(['cpanm', '--notest', '--quiet', '--installdeps', '-L', 'local', @mirror, '.'], 'cpanm --installdeps', dir => $work);
  } else {
    step('install', 'no cpanfile in the release: nothing to install');
  }
}

# ---- 3. check ----------------------------------------------------------------------------------

sub perl5lib { join(':', "$work/local/lib/perl5", "$work/lib", grep { defined && $_ ne '' } $ENV{PERL5LIB}) }

sub check_release {
  step('check', "perl -c $opt{psgi}" . ($opt{'test-command'} ? ' and the test command' : ''));
  fail("no $opt{psgi} in the release") unless -f "$work/$opt{psgi}";
  must_run([$^X, '-c', $opt{psgi}], "perl -c $opt{psgi}", dir => $work, env => { PERL5LIB => perl5lib() });
  if (defined $opt{'test-command'} && $opt{'test-command'} ne '') {
    must_run(['sh', '-c', $opt{'test-command'}], 'test-command', dir => $work, env => { PERL5LIB => perl5lib() });
  }
}

# ---- 4. link -----------------------------------------------------------------------------------

sub link_shared {
  for my $path (@{ $opt{shared} }) {
    my $is_dir = $path =~ s{/+$}{};
    fail("shared path '$path' must be relative and stay inside the release") if $path eq '' || $path =~ m{^/} || grep { $_ eq '..' } split m{/}, $path;
    my ($shared, $inside) = ("$app/shared/$path", "$work/$path");
    (my $parent = $shared) =~ s{/[^/]+$}{};
    make_path($parent);
    # The first release seeds the shared copy; later ones give theirs up for it.
    if (!-e $shared && -e $inside && !-l $inside) {
      rename($inside, $shared) or fail("cannot move $path into $app/shared: $!");
    } elsif (!-e $shared && $is_dir) {
      make_path($shared);
    } elsif (!-e $shared) {
      fail("shared file '$path' is missing: create $shared on the host (or list a directory as '$path/')");
    }
    remove_tree($inside) if -e $inside || -l $inside;
    (my $inside_parent = $inside) =~ s{/[^/]+$}{};
    make_path($inside_parent);
    symlink($shared, $inside) or fail("cannot link $path to $shared: $!");
    say_line("linked $path -> $shared");
  }
}

# ---- 5. restart --------------------------------------------------------------------------------

# The pid in a pid file, when that process lives and is what the file says it is.
sub live_pid {
  my ($file, $expect) = @_;
  my $pid = read_file($file);
  return undef unless defined $pid && $pid =~ /^\s*(\d+)\s*$/;
  $pid = $1;
  return undef unless kill 0, $pid;
  my $cmdline = read_file("/proc/$pid/cmdline");
  return undef if defined $cmdline && $cmdline !~ /\Q$expect\E/;
  return $pid;
}

sub wait_until {
  my ($timeout, $test) = @_;
  my $deadline = time + $timeout;
  while (time < $deadline) {
    return 1 if $test->();
    fail('stopped: what started the host script has ended (the SSM command was cancelled or timed out)') if orphaned();
    sleep 0.1;
  }
  return $test->();
}

# Server::Starter status file: one `generation:pid` line per running generation.
sub generations {
  my $status = read_file("$app/run/start_server.status");
  return () unless defined $status;
  return map { /^(\d+):\d+$/ ? $1 : () } split /\n/, $status;
}

sub restart_server_starter {
  my $pid = live_pid("$app/run/start_server.pid", 'start_server');
  if ($pid) {
    my ($before) = sort { $b <=> $a } generations();
    $before ||= 0;
    say_line("HUP to start_server (pid $pid): new workers start, then the old ones finish their requests");
    kill 'HUP', $pid or fail("cannot signal start_server (pid $pid): $!");
    # Done when the new generation runs alone: Server::Starter keeps the old one until the new starts.
    wait_until($opt{'restart-timeout'}, sub { my @g = generations(); @g == 1 && $g[0] > $before })
      or fail_with_log("the new workers did not take over within $opt{'restart-timeout'} s");
    return;
  }
  fail('start_server is not installed on this host (Debian: apt-get install libserver-starter-perl)') unless have_command('start_server');
  fail('starman is not installed on this host (Debian: apt-get install starman)') unless have_command('starman');
  unlink "$app/run/start_server.status";
  must_run(['start_server', '--daemonize', "--port=$opt{listen}", "--dir=$app/current", '--signal-on-hup=QUIT',
      "--pid-file=$app/run/start_server.pid", "--status-file=$app/run/start_server.status", "--log-file=$app/run/app.log",
      '--', 'starman', '-Ilocal/lib/perl5', '-Ilib', '-E', 'deployment', $opt{psgi}], 'start_server');
  wait_until($opt{'restart-timeout'}, sub { my @g = generations(); @g >= 1 })
    or fail_with_log("start_server did not start the app within $opt{'restart-timeout'} s");
}

sub worker_pids {
  my ($pid) = @_;
  my $children = read_file("/proc/$pid/task/$pid/children");
  return defined $children ? split(' ', $children) : ();
}

sub restart_starman {
  my $pid = live_pid("$app/run/starman.pid", 'starman');
  if ($pid) {
    my %old = map { $_ => 1 } worker_pids($pid);
    say_line("HUP to starman (pid $pid): workers restart gracefully with the new release");
    kill 'HUP', $pid or fail("cannot signal starman (pid $pid): $!");
    wait_until($opt{'restart-timeout'}, sub { my @now = worker_pids($pid); @now && !grep { $old{$_} } @now })
      or fail_with_log("starman workers did not restart within $opt{'restart-timeout'} s");
    return;
  }
  fail('starman is not installed on this host (Debian: apt-get install starman)') unless have_command('starman');
  # Paths go through `current`, so a HUP loads whatever release `current` points at then.
  must_run(['starman', '--daemonize', "--pid=$app/run/starman.pid", "--listen=$opt{listen}", "--error-log=$app/run/app.log",
      "-I$app/current/local/lib/perl5", "-I$app/current/lib", '-E', 'deployment', "$app/current/$opt{psgi}"], 'starman', dir => $app);
  wait_until($opt{'restart-timeout'}, sub { live_pid("$app/run/starman.pid", 'starman') })
    or fail_with_log("starman did not start within $opt{'restart-timeout'} s");
}

sub fail_with_log {
  my ($message) = @_;
  say_line("last lines of $app/run/app.log:");
  tail_of("$app/run/app.log", 15);
  fail($message);
}

sub restart_app {
  my ($why) = @_;
  my $method = $opt{restart};
  step('restart', "$method: $why");
  my %env = (BLUEGREEN_APP_DIR => $app, BLUEGREEN_RELEASE_DIR => "$app/current", BLUEGREEN_LISTEN => $opt{listen});
  if ($method eq 'server-starter') {
    restart_server_starter();
  } elsif ($method eq 'starman') {
    restart_starman();
  } elsif ($method eq 'systemd') {
    my $unit = $opt{'systemd-unit'};
    my @sudo = $> == 0 ? () : ('sudo', '-n');
    must_run([@sudo, 'systemctl', 'reload-or-restart', '--', $unit], "systemctl reload-or-restart $unit");
  } elsif ($method eq 'command') {
    must_run(['sh', '-c', $opt{'restart-command'}], 'restart-command', dir => "$app/current", env => \%env);
  } else {
    fail("unknown restart method '$method'");
  }
}

# ---- 6. probe ----------------------------------------------------------------------------------

sub probe_url {
  my ($host, $port) = $opt{listen} =~ /^(?:(.*):)?(\d+)$/ or fail("cannot read the listen address '$opt{listen}'");
  $host = '127.0.0.1' if !defined $host || $host eq '' || $host eq '0.0.0.0' || $host eq '*';
  $host = '[::1]' if $host eq '[::]';
  return "http://$host:$port$opt{'health-path'}";
}

# Probes with `health-retries` retries, or with as many as given.
sub probe {
  my ($retries) = @_;
  $retries = $opt{'health-retries'} unless defined $retries;
  my $url = probe_url();
  step('probe', "GET $url until it answers $opt{'health-status'}");
  my $last = '';
  for my $attempt (0 .. $retries) {
    # HTTP::Tiny turns any exception into a 599 answer, the alarm's too: the step's deadline is
    # kept here instead, by a shorter request timeout and a check after each attempt.
    my $left = $step_deadline - time;
    out_of_time() if $left <= 0;
    my $http = HTTP::Tiny->new(timeout => $left < $opt{'health-timeout'} ? $left : $opt{'health-timeout'}, max_redirect => 0);
    my $response = $http->get($url);
    out_of_time() if $response->{status} != $opt{'health-status'} && time >= $step_deadline;
    if ($response->{status} == $opt{'health-status'}) {
      say_line("healthy: $url answered $response->{status} (attempt ", $attempt + 1, ')');
      return;
    }
    $last = $response->{status} == 599 ? "no answer: $response->{content}" : "answered $response->{status}, expected $opt{'health-status'}";
    $last =~ s/\s+$//;
    last if $attempt == $retries;
    my $delay = $opt{'health-interval'} * 2 ** $attempt;
    $delay = 4 * $opt{'health-interval'} if $delay > 4 * $opt{'health-interval'};
    say_line("not healthy yet ($last); next try in ${delay}s");
    sleep $delay;
  }
  fail_with_log("$url is not healthy after " . ($retries + 1) . " attempts: $last");
}

# ---- 7. prune ----------------------------------------------------------------------------------

sub prune {
  my ($live) = @_;
  step('prune', "keep the last $opt{keep} releases");
  opendir(my $dh, $releases) or return say_line("cannot list $releases: $!");
  my @all = grep { !/^\./ && -d "$releases/$_" && !-l "$releases/$_" } readdir $dh;
  my @old = sort { (stat "$releases/$b")[9] <=> (stat "$releases/$a")[9] || $b cmp $a } grep { $_ ne $live } @all;
  my @gone = @old > $opt{keep} - 1 ? @old[$opt{keep} - 1 .. $#old] : ();
  for my $release (@gone) {
    remove_tree("$releases/$release", { error => \my $errors });
    say_line(@$errors ? "could not remove releases/$release" : "removed releases/$release");
  }
  say_line('nothing to remove') unless @gone;
}

# ---- main --------------------------------------------------------------------------------------

# Makes this script the leader of a session of its own, so the runner can end it with everything
# it started (`kill -- -<id>` reaches the script; each command's group carries the same session id).
# Under sshd the script usually leads a session already (sshd starts each with setsid); otherwise a
# child carries on in a new session and this process only passes its exit code on.
sub own_session {
  if (!defined POSIX::setsid() && session_of($$) != $$) {
    my $child = fork;
    finish_failed('arguments', "cannot fork: $!") unless defined $child;
    if ($child) {
      $SIG{$_} = sub { kill $_[0], $child } for qw(TERM INT HUP);
      waitpid($child, 0);
      exit($? & 127 ? 128 + ($? & 127) : $? >> 8);
    }
    POSIX::setsid();
  }
  $parent = getppid();
  $0 = "bluegreen-perl host script: release $opt{release}";
  say_line("==> session $$");
}

sub session_of {
  my ($pid) = @_;
  my $stat = read_file("/proc/$pid/stat");
  return -1 unless defined $stat;
  $stat =~ s/^.*\)\s*//s;
  return (split ' ', $stat)[3];
}

sub run_release {
  own_session();
  for my $required (qw(app-dir release)) {
    finish_failed('arguments', "--$required is required") unless defined $opt{$required} && $opt{$required} ne '';
  }
  $app = $opt{'app-dir'};
  # A relative app-dir lives in the SSH user's home, like scp paths.
  $app = "$ENV{HOME}/$app" unless $app =~ m{^/};
  $releases = "$app/releases";
  $name = dir_name($opt{release});
  finish_failed('arguments', "release id '$opt{release}' cannot name a directory") if $name =~ /^\./ || $name =~ /[\x00-\x1f]/;
  $dir = "$releases/$name";

  my ($reuse, $live);
  my $ok = eval {
    $current_step = 'fetch';
    make_path($releases, "$app/shared", "$app/run", { error => \my $errors });
    fail("cannot create $releases: ", join(', ', map { values %$_ } @$errors)) if @$errors;
    remove_stale_incoming();
    $previous = current_target();
    $live = defined $previous && $previous eq $name;
    fetch_release();
    my $recorded = -d $dir && !-l $dir ? (release_record($dir) || {})->{digest} : undef;
    if (defined $recorded && $recorded eq $digest) {
      $reuse = 1;
    } elsif ($live) {
      fail(defined $recorded
        ? "release $opt{release} is live on this host with other content (live: $recorded, this run: $digest): give changed content a new release id"
        : "release $opt{release} is live on this host without a recorded digest (installed by an older version), so this run cannot tell it holds the same content: give the release a new id");
    } elsif (-e $dir || -l $dir) {
      say_line(defined $recorded ? "releases/$name holds other content ($recorded) and is not live: it is replaced" : "releases/$name is incomplete (a run stopped while installing it): it is installed again");
    }
    if ($reuse) {
      step('install', "releases/$name is already installed and checked with this content: used as it is");
    } else {
      install_dependencies();
      check_release();
      step('link', @{ $opt{shared} } ? 'link shared paths, move the release into place, then flip current' : 'move the release into place, then flip current');
      link_shared();
      move_into_place();
    }
    1;
  };
  if (!$ok) {
    my $error = error_of($@);
    finish_failed($error->{step}, $error->{message});
  }
  if ($live) {
    # The same release and content, already live: a rerun leaves it alone when it is healthy.
    my $healthy = eval { probe(0); 1 };
    if ($healthy) {
      say_line("==> OK: release $opt{release} is live on this host (releases/$name), unchanged: same content, healthy, not restarted");
      exit 0;
    }
    say_line('the live release does not answer healthy: restarting it');
    $ok = eval { restart_app("restart release $opt{release}"); probe(); 1 };
    if (!$ok) {
      my $error = error_of($@);
      finish_failed($error->{step}, $error->{message});
    }
    say_line("==> OK: release $opt{release} is live on this host (releases/$name), restarted");
    exit 0;
  }

  point_current_at($name);
  say_line("current -> releases/$name", defined $previous ? " (was releases/$previous)" : '');
  $ok = eval {
    restart_app("start release $opt{release}");
    probe();
    1;
  };
  if (!$ok) {
    my $error = error_of($@);
    say_line("==> step $error->{step} failed: $error->{message}");
    restore($error, $previous);
  }
  eval { prune($name); 1 } or say_line('pruning failed: ', error_of($@)->{message});
  say_line("==> OK: release $opt{release} is live on this host (releases/$name)");
  exit 0;
}

sub remove_release {
  my ($release) = @_;
  remove_tree("$releases/$release", { error => \my $errors });
  say_line("could not remove the failed release releases/$release") if @$errors;
}

sub error_of {
  my ($error) = @_;
  return $error if ref $error eq 'HASH';
  chomp(my $text = "$error");
  return { step => $current_step, message => $text };
}

# After the flip: back to the previous release, restarted and probed, or say why not.
sub restore {
  my ($error, $previous) = @_;
  my $what = "$error->{step} failed: $error->{message}";
  $restoring = 1;
  arm_deadline('restore');
  if (!defined $previous || !-d "$releases/$previous") {
    say_line("==> NOT RESTORED: $what; there is no previous release on this host to go back to");
    exit 3;
  }
  my $ok = eval {
    point_current_at($previous);
    say_line("current -> releases/$previous (restored)");
    restart_app('restore the previous release');
    probe();
    1;
  };
  if (!$ok) {
    say_line("==> NOT RESTORED: $what; restoring releases/$previous failed too: ", error_of($@)->{message});
    exit 3;
  }
  remove_release($name);
  say_line("==> RESTORED: $what; releases/$previous is live again");
  exit 2;
}

run_release();
