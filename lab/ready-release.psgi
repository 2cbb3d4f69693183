# A release that adds a readiness path, `/ready`, to the example app beside it (copied from
# examples/app, with the same release file): the new health-path of a deploy, which the release
# before it does not answer (404).
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;

my $root = dirname(File::Spec->rel2abs(__FILE__));
my $inner = do "$root/app.psgi" or die "cannot load $root/app.psgi: ", ($@ || $!), "\n";

sub {
  my ($env) = @_;
  return [200, ['Content-Type' => 'text/plain'], ["ready\n"]] if $env->{PATH_INFO} eq '/ready';
  return $inner->($env);
};
