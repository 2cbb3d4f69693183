use strict;
use warnings;
use Test::More;
use Plack::Test;
use HTTP::Request::Common;

my $app = do './app.psgi' or die $@ || $!;
test_psgi $app, sub {
  my ($cb) = @_;
  is $cb->(GET '/health')->code, 200, '/health answers 200';
  like $cb->(GET '/')->content, qr/"release"/, '/ reports the release';
};
done_testing;
