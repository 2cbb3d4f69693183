# A release that passes every health check but fails every other real request with a 500 naming its
# color: the broken release a progressive switch must catch at its first step. It wraps the
# example app beside it, which it copies from examples/app, with the same release file.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use JSON::PP ();

my $root = dirname(File::Spec->rel2abs(__FILE__));
my $inner = do "$root/app.psgi" or die "cannot load $root/app.psgi: ", ($@ || $!), "\n";
open my $fh, '<', "$root/.bluegreen-release.json" or die "no release file\n";
my $color = JSON::PP->new->decode(do { local $/; <$fh> })->{color};
my $requests = 0;

sub {
  my ($env) = @_;
  return $inner->($env) if $env->{PATH_INFO} eq '/health' || ++$requests % 2;
  return [500, ['Content-Type' => 'application/json'], [JSON::PP->new->canonical->encode({ color => $color, error => 'broken release' }) . "\n"]];
};
